// The built conformance suite: builds it with conformance/build-suite.sh when the cache lacks it, and says where its parts are.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runBuildScript, skeinCacheDir } from '../local-cluster/binaries.ts';

export const BUILD_SUITE_SCRIPT = join(import.meta.dirname, 'build-suite.sh');
export const VERSIONS_FILE = join(import.meta.dirname, 'versions.env');

/** KEY=value lines of conformance/versions.env (the build script reads the same file). */
export function conformanceVersions(text = readFileSync(VERSIONS_FILE, 'utf8')): { gatewayApi: string; istioEcho: string } {
  const v = Object.fromEntries([...text.matchAll(/^([A-Z_]+)=(\S+)\s*$/gm)].map((m) => [m[1]!, m[2]!]));
  if (!v.GATEWAY_API_VERSION || !v.ISTIO_ECHO_VERSION) throw new Error(`${VERSIONS_FILE}: GATEWAY_API_VERSION and ISTIO_ECHO_VERSION are required`);
  return { gatewayApi: v.GATEWAY_API_VERSION, istioEcho: v.ISTIO_ECHO_VERSION };
}

export interface ConformanceSuite {
  readonly version: string;
  /** `go test -c` of sigs.k8s.io/gateway-api/conformance. */
  readonly testBinary: string;
  /** The suite's echo-basic backend (static). */
  readonly echoBasic: string;
  /** Istio's echo app: server, client, cert.crt, cert.key (the suite's echo-advanced image). */
  readonly echoAdvancedDir: string;
  /** The conformance module's folder in the Go module cache (its manifests name the backend images). */
  readonly moduleDir: string;
  /** Seconds the last build took (recorded by the script). */
  readonly buildSeconds: number | undefined;
}

/** Where the build script caches a release's suite. */
export function suiteDir(version = conformanceVersions().gatewayApi, env: NodeJS.ProcessEnv = process.env): string {
  return join(skeinCacheDir(env), 'conformance', version);
}

/** Builds the suite when its cache is missing or stale (the script decides, from a stamp over its inputs); then its parts. */
export async function ensureConformanceSuite(log: (line: string) => void): Promise<ConformanceSuite> {
  const version = conformanceVersions().gatewayApi;
  await runBuildScript(BUILD_SUITE_SCRIPT, log);
  const dir = suiteDir(version);
  const seconds = existsSync(join(dir, 'build-seconds')) ? Number(readFileSync(join(dir, 'build-seconds'), 'utf8').trim()) : undefined;
  return {
    version,
    testBinary: join(dir, 'bin', 'conformance.test'),
    echoBasic: join(dir, 'bin', 'echo-basic'),
    echoAdvancedDir: join(dir, 'echo-advanced'),
    moduleDir: readFileSync(join(dir, 'conformance-module-dir'), 'utf8').trim(),
    buildSeconds: Number.isFinite(seconds) ? seconds : undefined,
  };
}
