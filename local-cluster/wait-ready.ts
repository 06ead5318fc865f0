// Polls a component's health endpoint until it is ready, failing early (with its log's tail) when the process exits.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import type { CertificatePem } from './certificates.ts';
import { LocalClusterError } from './local-cluster-error.ts';
import type { ManagedProcess } from './managed-process.ts';

export interface Probe {
  url: string;
  ca?: string;
  client?: CertificatePem;
}

export function probeOnce(p: Probe): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(p.url);
    const opts = {
      method: 'GET',
      timeout: 3000,
      ...(u.protocol === 'https:' ? { ca: p.ca, cert: p.client?.certPem, key: p.client?.keyPem, rejectUnauthorized: p.ca !== undefined } : {}),
    };
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (body.length < 65536) body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export function logTail(path: string, lines = 25): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Polls `probe` until it answers 200 (and `accept` agrees), failing early if the component exits. */
export async function waitReady(
  what: string,
  proc: ManagedProcess | undefined,
  probe: Probe,
  timeoutMs: number,
  accept: (body: string) => boolean = () => true,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    const st = proc?.exitStatus();
    if (proc && st) {
      throw new LocalClusterError(
        'SKEIN_ERR_LOCAL_CLUSTER_START',
        `${what} exited (code ${st.code}, signal ${st.signal}) before it was ready; log ${proc.logPath}:\n${logTail(proc.logPath)}`,
      );
    }
    try {
      const r = await probeOnce(probe);
      if (r.status === 200 && accept(r.body)) return;
      last = `HTTP ${r.status}: ${r.body.slice(0, 300)}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new LocalClusterError(
    'SKEIN_ERR_LOCAL_CLUSTER_NOT_READY',
    `${what} was not ready within ${timeoutMs / 1000} s (${probe.url}: ${last})` + (proc ? `; log ${proc.logPath}:\n${logTail(proc.logPath)}` : ''),
  );
}
