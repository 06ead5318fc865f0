// `skein injector` rotates its serving certificate on its own while reviews keep flowing, and keeps answering briefly after SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { podAdmissionReview, samplePod } from '../../injector/admission-review-fixture.ts';

const REPO = join(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'skein-inj-rot-'));
const caFile = join(dir, 'ca.pem');
let child: ChildProcess;
let port = 0;
let log = '';

beforeAll(async () => {
  child = spawn(process.execPath, [join(REPO, 'bin/skein.mjs'), 'injector', '--no-kube', '--host', '127.0.0.1', '--port', '0', '--dns-name', 'localhost',
    '--leaf-validity', '6s', '--ca-validity', '1h', '--shutdown-delay', '1500ms', '--ca-out', caFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (d) => (log += d));
  port = await new Promise<number>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`injector did not start: ${log}`)), 30_000);
    const check = () => {
      const m = /listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (m) {
        clearTimeout(deadline);
        resolve(Number(m[1]));
      } else setTimeout(check, 50);
    };
    check();
  });
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    try {
      if (readFileSync(caFile, 'utf8').includes('BEGIN CERTIFICATE')) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
});

afterAll(async () => {
  if (child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

function review(ca: string): Promise<{ serial: string; allowed: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/mutate', method: 'POST', ca, servername: 'localhost', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      const serial = ((res.socket as TLSSocket).getPeerCertificate() as PeerCertificate).serialNumber;
      let b = '';
      res.on('data', (d) => (b += d));
      res.on('end', () => (res.statusCode === 200 ? resolve({ serial, allowed: JSON.parse(b).response.allowed === true }) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(JSON.stringify(podAdmissionReview(samplePod())));
  });
}

it('serves new certificates from the same CA as they come due, without a failed review', async () => {
  const ca = readFileSync(caFile, 'utf8');
  const serials = new Set<string>();
  let ok = 0;
  const failures: string[] = [];
  const end = Date.now() + 11_000;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (Date.now() < end) {
      try {
        const r = await review(ca);
        serials.add(r.serial);
        if (r.allowed) ok++;
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
  }));
  expect(failures).toEqual([]);
  expect(ok).toBeGreaterThan(20);
  expect(serials.size).toBeGreaterThanOrEqual(2);
  expect(readFileSync(caFile, 'utf8')).toBe(ca);
  expect(log.match(/now serving certificate/g)?.length ?? 0).toBeGreaterThanOrEqual(1);
}, 30_000);

it('after SIGTERM it keeps answering for the shutdown delay, then exits 0', async () => {
  const ca = readFileSync(caFile, 'utf8');
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const t0 = Date.now();
  child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  expect((await review(ca)).allowed).toBe(true);
  expect(await exited).toBe(0);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);
  expect(log).toContain('SIGTERM, closing in 1500 ms');
}, 30_000);
