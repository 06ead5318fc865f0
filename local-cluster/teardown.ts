// Tears down everything the local cluster and its addons started when the process exits or gets SIGINT/SIGTERM/SIGHUP.
export interface Teardown {
  /** Orderly stop (signals: awaited before the process re-raises the signal). */
  stop(): Promise<void>;
  /** Synchronous last resort from the 'exit' event: SIGKILL what is left. */
  killNow(): void;
}

const registered = new Set<Teardown>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', () => {
    for (const t of registered) t.killNow();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      // A second signal while stopping falls through to the default action (immediate exit; 'exit' kills the rest).
      process.removeListener(sig, onSignal);
      void Promise.allSettled([...registered].map((t) => t.stop())).then(() => {
        if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
      });
    };
    process.on(sig, onSignal);
  }
}

/** Registers `t` until the returned function is called (after an orderly stop). */
export function registerTeardown(t: Teardown): () => void {
  install();
  registered.add(t);
  return () => {
    registered.delete(t);
  };
}
