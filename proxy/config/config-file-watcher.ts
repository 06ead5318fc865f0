// Watches `skein proxy --config FILE` (and reloads on SIGHUP): each edit is read, validated and applied through the
// runtime's one entry point; an invalid edit is logged with its reasons and counted, and the last good config keeps serving.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { formatConfigProblems, parseProxyConfig } from '../../api/config/parse-proxy-config.ts';
import type { NackReason } from '../../api/proto/config-discovery.ts';
import { log } from '../log.ts';
import type { ProxyRuntime } from '../proxy-runtime.ts';

export interface ConfigFileWatcherOptions {
  readonly file: string;
  /** Reads the file into a document (the CLI's YAML/JSON loader); throws with a clear message when it cannot. */
  readonly load: (file: string) => Promise<unknown>;
  readonly runtime: ProxyRuntime;
  /** An editor writes a file in several steps: one reload this long after the last event. */
  readonly debounceMs?: number;
  /** Applied for the document (`--mode` given on the command line wins over the file's, as at start). */
  readonly override?: (doc: unknown) => void;
}

export type ReloadOutcome = 'applied' | 'rejected' | 'unreadable';

export class ConfigFileWatcher {
  readonly #opts: ConfigFileWatcherOptions;
  #watcher: FSWatcher | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<ReloadOutcome> | null = null;
  #again = false;

  constructor(opts: ConfigFileWatcherOptions) {
    this.#opts = opts;
  }

  /** Watches the file's directory: editors and ConfigMap mounts replace the file rather than write it in place. */
  start(): void {
    const name = basename(this.#opts.file);
    try {
      this.#watcher = watch(dirname(this.#opts.file), (_event, changed) => {
        if (changed === null || changed === name || changed === '..data') this.#schedule();
      });
      this.#watcher.on('error', (e) => log('warn', 'config file watch failed (SIGHUP still reloads)', { file: this.#opts.file, error: e.message }));
    } catch (e) {
      log('warn', 'cannot watch the config file (SIGHUP still reloads)', { file: this.#opts.file, error: (e as Error).message });
    }
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#watcher?.close();
    this.#watcher = null;
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.reload('file changed'), this.#opts.debounceMs ?? 50);
  }

  /** Reads and applies the file now; a reload asked for while one runs runs once more after it. */
  reload(why: string): Promise<ReloadOutcome> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    const run = this.#reload(why).finally(() => {
      this.#running = null;
      if (this.#again) {
        this.#again = false;
        void this.reload(why);
      }
    });
    this.#running = run;
    return run;
  }

  async #reload(why: string): Promise<ReloadOutcome> {
    const { file, runtime } = this.#opts;
    let doc: unknown;
    try {
      doc = await this.#opts.load(file);
    } catch (e) {
      // A half-written file or a moment without one: the next event (or SIGHUP) reads it again.
      log('warn', 'config file unreadable (the last good config keeps serving)', { file, reason: why, error: (e as Error).message });
      return 'unreadable';
    }
    this.#opts.override?.(doc);
    const parsed = parseProxyConfig(doc);
    if (!parsed.ok) {
      const version = doc !== null && typeof doc === 'object' && typeof (doc as { version?: unknown }).version === 'string' ? (doc as { version: string }).version : '';
      const reasons: NackReason[] = parsed.error.map((p) => ({ type: 'file', name: file, path: p.path, message: p.message }));
      runtime.recordRejection(version, reasons);
      log('warn', `config file rejected:\n${formatConfigProblems(parsed.error)}`, { file, reason: why });
      return 'rejected';
    }
    const outcome = await runtime.apply(parsed.value);
    if (outcome.ok) log('info', 'config reloaded', { file, reason: why, version: runtime.version });
    return outcome.ok ? 'applied' : 'rejected';
  }
}
