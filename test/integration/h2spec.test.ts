// h2spec (strict, every section of RFC 7540/7541 it checks) against the proxy's h2c and TLS (ALPN h2) listeners.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { h2Tools } from '../support/h2-tools.ts';
import { startHostileProxy, type HostileProxy } from '../support/start-proxy.ts';
import { makeTestCert, type TestCert } from '../support/test-cert.ts';
import { startHttpUpstream, type Upstream } from '../support/upstreams.ts';

interface CaseResult {
  readonly id: string;
  readonly failure: string | null;
}

/** Runs h2spec and returns every case from its JUnit report ("3.5/2" style ids with their failure text, if any). */
function runH2spec(bin: string, port: number, tls: boolean): Promise<CaseResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'skein-h2spec-'));
  const report = join(dir, 'report.xml');
  const args = ['-h', '127.0.0.1', '-p', String(port), '-S', '-o', '5', '-j', report, ...(tls ? ['-t', '-k'] : [])];
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: 600_000, maxBuffer: 16 << 20 }, (err) => {
      try {
        const xml = readFileSync(report, 'utf8');
        resolve(parseJunit(xml));
      } catch (e) {
        reject(err ?? e);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

function parseJunit(xml: string): CaseResult[] {
  const out: CaseResult[] = [];
  // <testsuite name="..." package="http2/3.5" ...> holds <testcase package="http2/3.5" classname="..." ...> elements.
  const suite = /<testsuite\b[^>]*\bpackage="([^"]*)"[^>]*>([\s\S]*?)<\/testsuite>/g;
  for (let m = suite.exec(xml); m !== null; m = suite.exec(xml)) {
    const pkg = m[1]!;
    const cases = /<testcase\b[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g;
    let n = 0;
    for (let c = cases.exec(m[2]!); c !== null; c = cases.exec(m[2]!)) {
      n++;
      const body = c[2] ?? '';
      const failed = /<failure|<error/.test(body);
      const skipped = /<skipped/.test(body);
      if (skipped) continue;
      out.push({ id: `${pkg}/${n}`, failure: failed ? body.replace(/\s+/g, ' ').trim() : null });
    }
  }
  return out;
}

describe('h2spec --strict against the proxy', () => {
  let tools: ReturnType<typeof h2Tools>;
  let upstream: Upstream;
  let cert: TestCert;
  let plain: HostileProxy;
  let secure: HostileProxy;

  beforeAll(async () => {
    tools = h2Tools();
    upstream = await startHttpUpstream('h1');
    cert = makeTestCert(['localhost']);
    plain = await startHostileProxy({ upstreamPort: upstream.port });
    secure = await startHostileProxy({ upstreamPort: upstream.port, tls: { certFile: cert.certFile, keyFile: cert.keyFile } });
  }, 1_300_000);
  afterAll(async () => {
    await plain?.close();
    await secure?.close();
    await upstream?.close();
    cert?.remove();
  });

  for (const [name, tls] of [
    ['h2c (prior knowledge)', false],
    ['TLS with ALPN h2', true],
  ] as const) {
    it(`${name}: all 146 cases run and pass`, async () => {
      const results = await runH2spec(tools.h2spec, tls ? secure.port : plain.port, tls);
      expect(results.length).toBe(146);
      // Our own HTTP/2 server (proxy/http2/server-connection.ts) passes every case; node:http2 failed nine to twelve.
      expect(results.filter((r) => r.failure !== null)).toEqual([]);
    }, 600_000);
  }
});
