// gRPC through the proxy: unary and all three streaming kinds, trailers and error statuses intact, grpc-timeout honoured.
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestProxy, type TestProxy } from '../support/proxy-fixture.ts';
import { loadEchoService, startGrpcUpstream, type EchoMsg } from '../support/upstreams.ts';

describe('gRPC through the proxy (HTTP/2 client -> proxy -> HTTP/2 upstream)', () => {
  let upstream: { port: number; close(): Promise<void> };
  let proxy: TestProxy;
  let client: any;

  beforeAll(async () => {
    upstream = await startGrpcUpstream();
    proxy = await startTestProxy({
      routes: [{ name: 'grpc', match: { path: { type: 'prefix', value: '/skein.test.Echo' } }, backends: [{ cluster: 'echo' }] }],
      clusters: [{ name: 'echo', protocol: 'http2', endpoints: [{ address: '127.0.0.1', port: upstream.port }] }],
    });
    const pkg = loadEchoService() as any;
    client = new pkg.skein.test.Echo(`127.0.0.1:${proxy.port}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    client.close();
    await proxy.close();
    await upstream.close();
  });

  it('unary: response and trailing metadata', async () => {
    const trailers = await new Promise<{ msg: EchoMsg; trailer: unknown }>((resolve, reject) => {
      let trailer: unknown;
      const call = client.Unary({ text: 'hi', count: 1 }, (e: Error | null, msg: EchoMsg) => (e ? reject(e) : setImmediate(() => resolve({ msg, trailer }))));
      call.on('status', (s: grpc.StatusObject) => (trailer = s.metadata.get('x-trailer')[0]));
    });
    expect(trailers.msg).toEqual({ text: 'echo:hi', count: 2 });
    expect(trailers.trailer).toBe('from-upstream');
  });

  it('unary error: grpc-status, grpc-message and trailing metadata survive', async () => {
    const err = await new Promise<grpc.ServiceError>((resolve) => client.Unary({ text: 'fail', count: 0 }, (e: grpc.ServiceError) => resolve(e)));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toBe('bad input: fail');
    expect(err.metadata.get('x-trailer')[0]).toBe('from-upstream');
  });

  it('server streaming', async () => {
    const got: EchoMsg[] = [];
    const status = await new Promise<grpc.StatusObject>((resolve, reject) => {
      const call = client.ServerStream({ text: 's', count: 5 });
      call.on('data', (m: EchoMsg) => got.push(m));
      call.on('status', resolve);
      call.on('error', reject);
    });
    expect(got.map((m) => m.text)).toEqual(['s-0', 's-1', 's-2', 's-3', 's-4']);
    expect(status.code).toBe(grpc.status.OK);
    expect(status.metadata.get('x-trailer')[0]).toBe('from-upstream');
  });

  it('server streaming that fails mid-stream keeps its status', async () => {
    const got: EchoMsg[] = [];
    const err = await new Promise<grpc.ServiceError>((resolve) => {
      const call = client.ServerStream({ text: 'fail', count: 2 });
      call.on('data', (m: EchoMsg) => got.push(m));
      call.on('error', resolve);
    });
    expect(got.length).toBe(2);
    expect(err.code).toBe(grpc.status.ABORTED);
    expect(err.details).toBe('aborted mid-stream');
  });

  it('client streaming', async () => {
    const res = await new Promise<EchoMsg>((resolve, reject) => {
      const call = client.ClientStream((e: Error | null, m: EchoMsg) => (e ? reject(e) : resolve(m)));
      for (const t of ['a', 'b', 'c']) call.write({ text: t, count: 0 });
      call.end();
    });
    expect(res).toEqual({ text: 'a,b,c', count: 3 });
  });

  it('bidirectional streaming', async () => {
    const got: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = client.Bidi();
      call.on('data', (m: EchoMsg) => {
        got.push(m.text);
        if (got.length < 3) call.write({ text: `m${got.length}`, count: got.length });
        else call.end();
      });
      call.on('status', (s: grpc.StatusObject) => (s.code === 0 ? resolve() : reject(new Error(s.details))));
      call.on('error', reject);
      call.write({ text: 'm0', count: 0 });
    });
    expect(got).toEqual(['bidi:m0', 'bidi:m1', 'bidi:m2']);
  });

  it('honours grpc-timeout: a hanging call ends with DEADLINE_EXCEEDED from the proxy', async () => {
    // A raw HTTP/2 client, so the deadline is enforced by the proxy and not by the client library.
    const session = http2.connect(`http://127.0.0.1:${proxy.port}`);
    try {
      const msg = Buffer.from([0x0a, 0x04, ...Buffer.from('hang')]); // Msg{text:"hang"}
      const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, msg.length]), msg]);
      const stream = session.request({ ':method': 'POST', ':path': '/skein.test.Echo/Unary', 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '150m' });
      stream.end(frame);
      const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        stream.on('response', resolve);
        stream.on('error', reject);
      });
      expect(headers[':status']).toBe(200);
      expect(headers['grpc-status']).toBe(String(grpc.status.DEADLINE_EXCEEDED));
      expect(headers['x-skein-error']).toBe('timeout');
    } finally {
      session.close();
    }
  });

  it('answers UNIMPLEMENTED (HTTP 200 + grpc-status) for a gRPC request no route matches', async () => {
    const session = http2.connect(`http://127.0.0.1:${proxy.port}`);
    try {
      const stream = session.request({ ':method': 'POST', ':path': '/other.Service/Call', 'content-type': 'application/grpc', te: 'trailers' });
      stream.end(Buffer.from([0, 0, 0, 0, 0]));
      const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => stream.on('response', resolve));
      expect(headers[':status']).toBe(200);
      expect(headers['grpc-status']).toBe(String(grpc.status.UNIMPLEMENTED));
      expect(headers['x-skein-error']).toBe('no-route');
    } finally {
      session.close();
    }
  });
});
