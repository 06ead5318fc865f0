// `skein wait-ready`: polls a URL until it answers 2xx; the regular-container sidecar's postStart hook, which holds the app
// containers until the proxy is ready, then tells the proxy the app starts next (so a Job's proxy can notice an app that
// ends before its next scan: proxy/sidecar/app-exit-watcher.ts).
import type { Command } from 'commander';
import { PROXY_ADMIN_PORT } from '../../api/mesh/mesh-constants.ts';
import { CliError } from '../cli-error.ts';

export async function waitReady(url: string, timeoutMs: number, intervalMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(Math.min(1000, Math.max(1, deadline - Date.now()))) });
      await res.body?.cancel();
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new CliError(`${url} not ready after ${timeoutMs} ms (${last})`);
}

/** Best effort: a proxy that does not watch for the app's exit just answers 204 too; one that is unreachable is not an error. */
export async function reportHandoff(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { method: 'POST', signal: AbortSignal.timeout(1000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

export function registerWaitReadyCommand(program: Command): void {
  program
    .command('wait-ready')
    .description('wait until a URL answers 2xx (the sidecar postStart hook that holds the app until the proxy is ready)')
    .option('--url <url>', 'readiness URL', 'http://127.0.0.1:15020/ready')
    .option('--timeout-seconds <n>', 'give up after this long', '120')
    .option('--handoff-url <url>', 'POSTed once ready, best effort ("" for none)', `http://127.0.0.1:${PROXY_ADMIN_PORT}/app-handoff`)
    .action(async (opts: { url: string; timeoutSeconds: string; handoffUrl: string }) => {
      const s = Number(opts.timeoutSeconds);
      if (!Number.isFinite(s) || s <= 0) throw new CliError('--timeout-seconds must be a positive number', 2);
      await waitReady(opts.url, s * 1000);
      if (opts.handoffUrl) await reportHandoff(opts.handoffUrl);
    });
}
