// Jaeger addon: the Jaeger v2 command with in-memory storage, OTLP (gRPC + HTTP) in, the query API/UI out; built and cached on first use.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { componentVersions, firstBuildNote, runBuildScript, skeinCacheDir } from '../binaries.ts';
import { freePorts } from '../free-port.ts';
import { startManagedProcess } from '../managed-process.ts';
import { recordOwnedProcesses } from '../state-file.ts';
import { registerTeardown } from '../teardown.ts';
import { waitReady } from '../wait-ready.ts';

export const buildJaegerScript = join(dirname(fileURLToPath(import.meta.url)), 'build-jaeger.sh');

export interface JaegerAddon {
  /** host:port of the OTLP/gRPC receiver (listens on all interfaces so pods on the bridge can export to the node). */
  readonly otlpGrpcPort: number;
  /** Port of the OTLP/HTTP receiver: POST http://<host>:<port>/v1/traces. */
  readonly otlpHttpPort: number;
  /** Jaeger query API and UI on loopback, e.g. GET `${queryUrl}/api/traces?service=x`. */
  readonly queryUrl: string;
  readonly logPath: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export function jaegerBinaryPath(): string {
  return join(skeinCacheDir(), 'jaeger', componentVersions().jaeger, 'bin', 'jaeger');
}

export async function ensureJaegerBinary(log: (line: string) => void): Promise<string> {
  const bin = jaegerBinaryPath();
  if (!existsSync(bin)) {
    log(`jaeger: building ${bin} with ${buildJaegerScript} (${firstBuildNote(9)})`);
    await runBuildScript(buildJaegerScript, log);
  }
  return bin;
}

export async function startJaeger(opts: { workDir: string; log?: (line: string) => void }): Promise<JaegerAddon> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const bin = await ensureJaegerBinary(log);
  const dir = join(opts.workDir, 'jaeger');
  mkdirSync(dir, { recursive: true });
  const [grpcPort, httpPort, queryPort, queryGrpcPort] = (await freePorts(['0.0.0.0', '0.0.0.0', '127.0.0.1', '127.0.0.1'])) as [number, number, number, number];
  // The shape of Jaeger's own cmd/jaeger/config.yaml, reduced to memory storage and OTLP, with every port chosen by us.
  const config = {
    service: {
      extensions: ['jaeger_storage', 'jaeger_query'],
      pipelines: { traces: { receivers: ['otlp'], processors: ['batch'], exporters: ['jaeger_storage_exporter'] } },
      telemetry: { metrics: { level: 'none' }, logs: { level: 'info' } },
    },
    extensions: {
      jaeger_query: {
        storage: { traces: 'memstore' },
        http: { endpoint: `127.0.0.1:${queryPort}` },
        grpc: { endpoint: `127.0.0.1:${queryGrpcPort}` },
      },
      jaeger_storage: { backends: { memstore: { memory: { max_traces: 100000 } } } },
    },
    receivers: {
      otlp: { protocols: { grpc: { endpoint: `0.0.0.0:${grpcPort}` }, http: { endpoint: `0.0.0.0:${httpPort}` } } },
    },
    processors: { batch: { timeout: '200ms' } },
    exporters: { jaeger_storage_exporter: { trace_storage: 'memstore' } },
  };
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, stringify(config));
  const proc = startManagedProcess({ name: 'jaeger', exe: bin, args: [`--config=${configPath}`], logPath: join(dir, 'jaeger.log'), cwd: dir });
  const forget = recordOwnedProcesses('jaeger', dir, [proc]);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await proc.stop();
      forget();
      unregister();
    })());
  const unregister = registerTeardown({ stop, killNow: () => proc.killNow() });
  const queryUrl = `http://127.0.0.1:${queryPort}`;
  try {
    await waitReady('jaeger', proc, { url: `${queryUrl}/api/services` }, 60_000);
  } catch (e) {
    await stop();
    throw e;
  }
  log(`jaeger: OTLP gRPC :${grpcPort}, OTLP HTTP :${httpPort}, query ${queryUrl} (log ${proc.logPath})`);
  return { otlpGrpcPort: grpcPort, otlpHttpPort: httpPort, queryUrl, logPath: proc.logPath, pid: proc.pid, stop };
}
