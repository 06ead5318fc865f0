// `skein wait-ready`: polls a URL until it answers 2xx; the regular-container sidecar's postStart hook, which holds the app
// containers until the proxy is ready.
import type { Command } from 'commander';
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

export function registerWaitReadyCommand(program: Command): void {
  program
    .command('wait-ready')
    .description('wait until a URL answers 2xx (the sidecar postStart hook that holds the app until the proxy is ready)')
    .option('--url <url>', 'readiness URL', 'http://127.0.0.1:15020/ready')
    .option('--timeout-seconds <n>', 'give up after this long', '120')
    .action(async (opts: { url: string; timeoutSeconds: string }) => {
      const s = Number(opts.timeoutSeconds);
      if (!Number.isFinite(s) || s <= 0) throw new CliError('--timeout-seconds must be a positive number', 2);
      await waitReady(opts.url, s * 1000);
    });
}
