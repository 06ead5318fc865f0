// The HTTP/2, gRPC (and HTTP/1.1) workloads that bench/instructions.ts and bench/allocations.ts send through one proxy:
// the upstream each needs, and the closed-loop load with a fixed request count.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_PROTO, ECHO_CALL } from '../grpc/grpc-server.ts';
import { upstreamConfig } from './haproxy-config.ts';
import { binDir } from './install-tools.ts';
import { runTool } from './load-tools.ts';
import { freePort, waitForPort, type ProcessGroup } from './process-group.ts';

export type Proto = 'h2' | 'grpc' | 'h1';

/** `h2` / `h1`: HAProxy serving 1 KiB answers over h2c / HTTP/1.1; `grpc`: the bench's grpc-js Echo server. Returns its port. */
export async function startUpstream(group: ProcessGroup, proto: Proto, work: string): Promise<number> {
  if (proto !== 'grpc') {
    const up = { h1: await freePort(), h2: await freePort() };
    writeFileSync(join(work, 'upstream.cfg'), upstreamConfig(up.h1, up.h2, 1024, 1));
    const upstream = group.start('upstream', 'haproxy', ['-db', '-f', join(work, 'upstream.cfg')]);
    await waitForPort(up.h2, 5000, upstream);
    return proto === 'h1' ? up.h1 : up.h2;
  }
  const port = await freePort();
  const app = group.start('grpc-server', process.execPath, [join(import.meta.dirname, '..', 'grpc', 'grpc-server.ts'), String(port)]);
  await waitForPort(port, 10_000, app);
  return port;
}

/**
 * One phase of load: h2load (16 connections x 10 streams; `h1`: --h1, 16 keep-alive connections) or ghz (4 connections,
 * 16 in flight), `n` requests, closed loop; `rps` > 0 holds each connection to that many requests per second. ghz writes
 * its report to work/ghz.json.
 */
export function loadPhase(group: ProcessGroup, proto: Proto, port: number, n: number, work: string, rps = 0): Promise<string> {
  if (proto !== 'grpc') {
    const streams = proto === 'h2' ? ['-m', '10'] : ['--h1'];
    return runTool(group, 'h2load', 'h2load', ['-n', String(n), '-c', '16', ...streams, '-t', '1', ...(rps > 0 ? [`--rps=${rps}`] : []), `http://127.0.0.1:${port}/`], 900_000).done;
  }
  const args = ['--insecure', ...(rps > 0 ? ['--rps', String(4 * rps)] : []), '--proto', BENCH_PROTO, '--call', ECHO_CALL, '-n', String(n), '--connections', '4', '--concurrency', '16',
    '--timeout', '60s', '--data', '{"name":"bench"}', '--format', 'json', '--output', join(work, 'ghz.json'), `127.0.0.1:${port}`];
  return runTool(group, 'ghz', join(binDir(), 'ghz'), args, 900_000).done;
}
