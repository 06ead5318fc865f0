// The Gateway API CRDs of a pinned release (the standard channel, or the experimental one that the conformance run of a
// profile claiming an experimental field installs), taken from the Go module sigs.k8s.io/gateway-api through the Go
// module proxy (`go mod download -json` gives the module's directory), never from a copy in the repo; cached in
// <skein cache>/gateway-api/<version>/<channel> so that later runs need neither Go nor the network.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { skeinCacheDir } from './binaries.ts';

export const GATEWAY_API_MODULE = 'sigs.k8s.io/gateway-api';
/** The newest release whose conformance suite builds here (v1.7.0 needs a module the Go module proxy refuses). */
export const GATEWAY_API_MODULE_VERSION = 'v1.6.3';

/** The release channels: experimental is standard plus the fields and kinds not yet standard (route `retry`, ListenerSet...). */
export type GatewayApiChannel = 'standard' | 'experimental';

const run = promisify(execFile);

/** The folder holding the release's CRD files of a channel (downloaded once, then from the cache). */
export async function gatewayApiCrdDir(version = GATEWAY_API_MODULE_VERSION, env: NodeJS.ProcessEnv = process.env, channel: GatewayApiChannel = 'standard'): Promise<string> {
  const dir = join(skeinCacheDir(env), 'gateway-api', version, channel);
  if (existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.yaml'))) return dir;
  const scratch = mkdtempSync(join(tmpdir(), 'skein-gateway-api-'));
  try {
    // Outside any module: `go mod download` of an explicit module@version needs no go.mod.
    const { stdout } = await run('go', ['mod', 'download', '-json', `${GATEWAY_API_MODULE}@${version}`], {
      cwd: scratch,
      env: { ...env, GOFLAGS: '-mod=mod' },
      maxBuffer: 1 << 20,
      timeout: 300_000,
    });
    const info = JSON.parse(stdout) as { Dir?: string; Error?: string };
    if (!info.Dir) throw new Error(`go mod download ${GATEWAY_API_MODULE}@${version}: ${info.Error ?? 'no Dir in its answer'}`);
    const source = join(info.Dir, 'config', 'crd', channel);
    // Copy next to the cache then rename (same filesystem): a run interrupted halfway never leaves a partial cache.
    mkdirSync(join(dir, '..'), { recursive: true });
    const staging = mkdtempSync(join(dir, '..', '.staging-'));
    for (const f of readdirSync(source).filter((x) => x.endsWith('.yaml'))) cpSync(join(source, f), join(staging, f));
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
    return dir;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new Error('the Gateway API CRDs come from the Go module proxy: install Go (the `go` command) or fill the cache', { cause: e });
    throw new Error(`could not get the Gateway API CRDs: ${err.stderr?.trim() || err.message}`, { cause: e });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The text of every CRD file of a channel, in name order. */
export async function gatewayApiCrdTexts(version = GATEWAY_API_MODULE_VERSION, channel: GatewayApiChannel = 'standard'): Promise<string[]> {
  const dir = await gatewayApiCrdDir(version, process.env, channel);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => readFileSync(join(dir, f), 'utf8'));
}

// `node local-cluster/gateway-api-crds.ts`: fills the cache and prints the folder (for scripts and people).
if (process.argv[1] === import.meta.filename) {
  gatewayApiCrdDir().then(
    (dir) => process.stdout.write(`${dir}\n`),
    (e: unknown) => {
      process.stderr.write(`${(e as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
