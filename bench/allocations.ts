// Bytes the proxy allocates per HTTP/2 request or gRPC call: what its collector has to clear, counted by V8 itself.
// Usage: node bench/allocations.ts [--proto h2|grpc|h1] [--requests N] [--runs R] [--base DIR] [--rps R]
// The proxy runs natively with `--trace-gc-nvp`: each collection prints `allocated=` (bytes allocated since the one
// before). W requests warm it up, then N are sent; bytes per request = the sum of `allocated=` of the collections in the
// measured phase / N, and scavenges per 1000 requests beside it. Timing cannot move the sum much (only which collection
// a request's bytes are charged to), so it repeats where wall-clock figures do not. Load as bench/instructions.ts;
// `--rps R` holds it to R requests per second per connection (a light load, for a machine that is measuring something else).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPhase, startUpstream, type Proto } from './lib/h2-workload.ts';
import { freePort, ProcessGroup } from './lib/process-group.ts';
import { skeinProxyConfig } from './lib/skein-config.ts';
import { httpStatus, REPO_DIR } from './lib/skein-proxy.ts';
import { cliArg, variantsFrom, type Variant } from './lib/variants.ts';

const { V8_FLAGS } = (await import(new URL('../bin/process-settings.mjs', import.meta.url).href)) as { V8_FLAGS: Record<string, string[]> };


/** Sums `allocated=` over the collections printed in `log`, and counts the scavenges. */
function collections(log: string): { bytes: number; scavenges: number } {
  let bytes = 0;
  let scavenges = 0;
  for (const line of log.split('\n')) {
    const a = /\ballocated=(\d+)/.exec(line);
    if (a === null) continue;
    bytes += Number(a[1]);
    if (/\bgc=s\b/.test(line)) scavenges++;
  }
  return { bytes, scavenges };
}

async function measureOnce(group: ProcessGroup, v: Variant, proto: Proto, upstreamPort: number, warm: number, n: number, work: string, tag: string, rps: number): Promise<{ bytes: number; scavenges: number }> {
  const port = await freePort();
  const admin = await freePort();
  const cfgFile = join(work, `proxy-${tag}.json`);
  writeFileSync(cfgFile, JSON.stringify(skeinProxyConfig('bench-alloc', admin, [{ name: 'al', port, direction: 'outbound', upstreamPort, upstreamProtocol: proto === 'h1' ? 'http1' : 'http2' }])));
  const proc = group.start(`skein-${tag}`, process.execPath, [...(V8_FLAGS.proxy ?? []), '--trace-gc-nvp', ...(v.args ?? []),
    join(v.dir ?? REPO_DIR, 'bin', 'skein.mjs'), 'proxy', '--config', cfgFile], { SKEIN_PROCESS_SETTINGS: '0', ...v.env });
  // The group keeps only the last 8 KiB of output: the trace is read here as it comes.
  let log = '';
  proc.child.stdout!.on('data', (b: Buffer) => { log += b.toString(); });
  while ((await httpStatus(`http://127.0.0.1:${admin}/ready`)) !== 200) {
    if (proc.child.exitCode !== null) throw new Error(`${tag}: proxy exited: ${proc.output().slice(-1500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await loadPhase(group, proto, port, warm, work, rps);
  const mark = log.length;
  await loadPhase(group, proto, port, n, work, rps);
  const c = collections(log.slice(mark));
  proc.child.kill('SIGKILL');
  return { bytes: c.bytes / n, scavenges: (1000 * c.scavenges) / n };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const proto = cliArg(argv, '--proto', 'h2') as Proto;
  const n = Number(cliArg(argv, '--requests', '16000'));
  const warm = Number(cliArg(argv, '--warmup', String(n)));
  const runs = Number(cliArg(argv, '--runs', '2'));
  const rps = Number(cliArg(argv, '--rps', '0'));
  const work = mkdtempSync(join(tmpdir(), 'skein-alloc-'));
  const group = new ProcessGroup();
  try {
    const upstreamPort = await startUpstream(group, proto, work);
    const variants = variantsFrom(argv);
    for (let r = 0; r < runs; r++) {
      for (const [i, v] of variants.entries()) {
        const m = await measureOnce(group, v, proto, upstreamPort, warm, n, work, `v${i}-r${r}`, rps);
        console.log(`${proto} ${v.name} run ${r + 1}: ${m.bytes.toFixed(0)} bytes allocated per ${proto === 'grpc' ? 'call' : 'request'}, ${m.scavenges.toFixed(2)} scavenges per 1000`);
      }
    }
  } finally {
    group.dispose();
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === import.meta.filename) await main();
