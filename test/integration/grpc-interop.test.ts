// grpc-go's interop client and server with the proxy between them: the standard cases, each as grpc-go itself judges it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { h2Tools } from '../support/h2-tools.ts';
import { startTestProxy, type TestProxy } from '../support/proxy-fixture.ts';

const CASES = [
  'empty_unary',
  'large_unary',
  'client_streaming',
  'server_streaming',
  'ping_pong',
  'empty_stream',
  'timeout_on_sleeping_server',
  'cancel_after_begin',
  'cancel_after_first_response',
  'custom_metadata',
  'status_code_and_message',
  'special_status_message',
  'unimplemented_method',
  'unimplemented_service',
] as const;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once the port accepts a connection (bounded: 200 tries, 25 ms apart). */
async function waitListening(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect({ host: '127.0.0.1', port }, () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`interop server did not listen on ${port}`);
}

describe('grpc-go interop through the proxy (interop client -> proxy -> interop server, h2c both sides)', () => {
  let tools: ReturnType<typeof h2Tools>;
  let server: ChildProcess;
  let proxy: TestProxy;

  beforeAll(async () => {
    tools = h2Tools();
    const port = await freePort();
    server = spawn(tools.interopServer, [`-port=${port}`, '-use_tls=false'], { stdio: 'ignore' });
    await waitListening(port);
    proxy = await startTestProxy({
      routes: [{ name: 'grpc', backends: [{ cluster: 'interop' }] }],
      clusters: [{ name: 'interop', protocol: 'http2', endpoints: [{ address: '127.0.0.1', port }] }],
    });
  }, 1_300_000);
  afterAll(async () => {
    await proxy?.close();
    server?.kill('SIGTERM');
  });

  for (const testCase of CASES) {
    it(testCase, async () => {
      const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
        execFile(
          tools.interopClient,
          ['-server_host=127.0.0.1', `-server_port=${proxy.port}`, `-test_case=${testCase}`, '-use_tls=false'],
          { timeout: 60_000 },
          (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
        );
      });
      // The client exits 0 only when every check of the case held (it logs FATAL and exits 1 otherwise).
      expect({ code: r.code, out: r.code === 0 ? '' : r.out.slice(-2000) }).toEqual({ code: 0, out: '' });
    }, 70_000);
  }
});
