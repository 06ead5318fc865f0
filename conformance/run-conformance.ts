// `npm run conformance -- --profile MESH-HTTP`: builds the Gateway API conformance suite, brings up the local cluster on the
// real node with Skein installed, runs the suite with the features Skein claims, and writes the official report and a summary.
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { INJECT_LABEL } from '../api/mesh/mesh-constants.ts';
import { applyCrds, waitCrdsEstablished } from '../local-cluster/apply-crds.ts';
import { applyManifests, readManifests } from '../local-cluster/apply-manifests.ts';
import { skeinCacheDir } from '../local-cluster/binaries.ts';
import { startLocalCluster, type LocalClusterDetails } from '../local-cluster/cluster.ts';
import { unavailableDeployments } from '../local-cluster/demo-mesh-parts.ts';
import { gatewayApiCrdTexts, type GatewayApiChannel } from '../local-cluster/gateway-api-crds.ts';
import { REPO_ROOT } from '../local-cluster/images/skein-images.ts';
import { parseConformanceArgs, reportPaths, type ConformanceArgs } from './conformance-args.ts';
import { loadClaims, type ConformanceClaims, type ConformanceProfile } from './conformance-claims.ts';
import { ensureConformanceSuite, type ConformanceSuite } from './conformance-suite.ts';
import { belongsToProfile, formatSummary, parseGoTestResults, parseReport, summaryPassed } from './conformance-summary.ts';
import { buildEchoImages, importImages } from './echo-images.ts';
import { guardServiceCidr, removeServiceCidrGuard } from './service-cidr-guard.ts';

/** How long the suite may run before `go test` stops it (it prints which test hung). */
const SUITE_TIMEOUT = '60m';
/** The parts of Skein each profile needs installed (manifests/<part>/); the ingress part is skipped while it has no manifests. */
const PARTS = { mesh: ['control-plane', 'injector'], gateway: ['control-plane', 'injector', 'ingress'] } as const;

/** The implementation version in the report: package.json's version and the commit it was run from. */
function implementationVersion(): string {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  try {
    const sha = execFileSync('git', ['-C', REPO_ROOT, 'rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return `v${pkg.version}+${sha}`;
  } catch {
    return `v${pkg.version}`;
  }
}

/** The suite's command line (its own flags: sigs.k8s.io/gateway-api/conformance/utils/flags). */
export function suiteArgs(a: ConformanceArgs, claims: ConformanceClaims, reportFile: string, version: string): string[] {
  const out = [
    '-test.v',
    `-test.timeout=${SUITE_TIMEOUT}`,
    '-test.run=^TestConformance$',
    `--gateway-class=${claims.gatewayClass}`,
    `--conformance-profiles=${a.profile}`,
    `--supported-features=${claims.features[a.profile].join(',')}`,
    // Every namespace the suite creates gets the injection label: its workloads run with Skein's sidecar.
    `--namespace-labels=${INJECT_LABEL}=enabled`,
    `--report-output=${reportFile}`,
    `--organization=${claims.implementation.organization}`,
    `--project=${claims.implementation.project}`,
    `--url=${claims.implementation.url}`,
    `--version=${version}`,
    `--contact=${claims.implementation.contact.join(',')}`,
    '--mode=default',
  ];
  if (a.runTest) out.push(`--run-test=${a.runTest}`);
  if (a.skipTests.length > 0) out.push(`--skip-tests=${a.skipTests.join(',')}`);
  if (a.debug) out.push('--debug');
  // Kept for a look afterwards: the suite's namespaces and echo pods stay with the cluster. Each test's own routes are still
  // removed after it (left in place, they would take part in the next tests' routing and fail them).
  if (a.keep) out.push('--cleanup-base-resources=false');
  return out;
}

/** Runs the test binary; every line goes to `logFile`, and the start and end of each conformance test to `log`. */
function runSuite(binary: string, args: readonly string[], profile: ConformanceProfile, kubeconfig: string, cwd: string, logFile: string, log: (l: string) => void): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const file = createWriteStream(logFile);
    const chunks: string[] = [];
    const child = spawn(binary, [...args], { cwd, env: { ...process.env, KUBECONFIG: kubeconfig }, stdio: ['ignore', 'pipe', 'pipe'] });
    let partial = '';
    const onData = (b: Buffer): void => {
      const s = b.toString('utf8');
      file.write(s);
      chunks.push(s);
      const lines = (partial + s).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) {
        // The suite runs every test it has and skips those of other profiles: only this profile's start and every result show.
        const run = /^=== RUN\s+TestConformance\/(\w+)$/.exec(l);
        if ((run && belongsToProfile(run[1]!, profile)) || /^\s*--- (PASS|FAIL): TestConformance\/\w+ /.test(l) || /^(FAIL|PASS|ok)\b/.test(l)) log(`suite: ${l.trim()}`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => {
      file.end();
      resolve({ code: code ?? 1, output: chunks.join('') });
    });
  });
}

async function installSkein(cluster: LocalClusterDetails, profile: ConformanceArgs['profile'], channel: GatewayApiChannel, log: (l: string) => void): Promise<void> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  const crds = await applyCrds(kc, await gatewayApiCrdTexts(undefined, channel));
  await waitCrdsEstablished(kc, crds, 60_000);
  log(`conformance: ${crds.length} Gateway API CRDs (${channel} channel) applied from the Go module`);
  for (const part of profile.startsWith('MESH') ? PARTS.mesh : PARTS.gateway) {
    const dir = join(REPO_ROOT, 'manifests', part);
    const objects = existsSync(dir) ? readManifests(dir) : [];
    if (objects.length === 0) {
      log(`conformance: manifests/${part}/ does not exist yet: not installed`);
      continue;
    }
    await applyManifests(cluster.kubeconfigPath, objects, log);
    const missing = await unavailableDeployments(kc, objects, 240_000);
    if (missing.length > 0) throw new Error(`manifests/${part}/: not available after 240 s: ${missing.join(', ')}`);
    log(`conformance: manifests/${part}/ installed and available`);
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  const parsed = parseConformanceArgs(argv);
  if (!parsed.ok) {
    process.stderr.write(`${parsed.message}\n`);
    return parsed.help ? 0 : 2;
  }
  const a = parsed.value;
  const claimsResult = loadClaims();
  if (!claimsResult.ok) {
    process.stderr.write(`conformance/claims.yaml is invalid:\n${claimsResult.problems.map((p) => `  - ${p}`).join('\n')}\n`);
    return 2;
  }
  const claims = claimsResult.value;
  const timings: Record<string, number> = {};
  const step = async <T>(name: string, f: () => Promise<T> | T): Promise<T> => {
    const t = Date.now();
    const v = await f();
    timings[name] = (Date.now() - t) / 1000;
    return v;
  };

  log(`conformance: building the suite (cached after the first build; a cold build takes several minutes)`);
  const suite: ConformanceSuite = await step('suite build', () => ensureConformanceSuite(log));
  const images = await step('images', () => buildEchoImages(suite, log));
  if (a.buildOnly) {
    log(`conformance: built ${suite.testBinary} (last full build ${suite.buildSeconds ?? '?'} s) and ${images.names.length} image names in ${images.archive}`);
    return 0;
  }

  const paths = reportPaths(a);
  mkdirSync(paths.dir, { recursive: true });
  const workDir = a.workDir ?? join(skeinCacheDir(), 'conformance-run');
  mkdirSync(workDir, { recursive: true });
  const cluster = await step('cluster ready', () => startLocalCluster({ node: 'kubelet', workDir: join(workDir, 'cluster'), log }));
  let code: number;
  try {
    if (!cluster.realNode) throw new Error('the cluster has no real node: the mesh tests need kubectl exec and real pod hostnames');
    await step('images imported', () => importImages(cluster.realNode!.containerdSocket, images.archive));
    await guardServiceCidr();
    await step('Skein installed', () => installSkein(cluster, a.profile, claims.channels[a.profile], log));

    const version = implementationVersion();
    const args = suiteArgs(a, claims, paths.report, version);
    const suiteLog = join(workDir, `${a.profile}-suite.log`);
    log(`conformance: running the suite (${a.profile}); its full output goes to ${suiteLog}`);
    const result = await step('suite', () => runSuite(suite.testBinary, args, a.profile, cluster.kubeconfigPath, workDir, suiteLog, log));
    const report = existsSync(paths.report) ? parseReport(readFileSync(paths.report, 'utf8')) : null;
    const input = {
      profile: a.profile,
      date: a.date,
      suiteVersion: suite.version,
      report,
      tests: parseGoTestResults(result.output),
      claimed: claims.features[a.profile],
      skippedOnRequest: a.skipTests,
      timings,
      exitCode: result.code,
      reportFile: relative(paths.dir, paths.report),
    };
    writeFileSync(paths.summary, formatSummary(input));
    log(`conformance: ${summaryPassed(input) ? 'PASS' : 'FAIL'}; report ${paths.report}, summary ${paths.summary}`);
    process.stdout.write(readFileSync(paths.summary, 'utf8'));
    code = summaryPassed(input) ? 0 : 1;
    if (a.keep) {
      log(`conformance: the cluster stays up (KUBECONFIG=${cluster.kubeconfigPath}${cluster.kubectl ? `, kubectl ${cluster.kubectl}` : ''}); Ctrl-C stops it`);
      await new Promise<never>(() => {});
    }
  } finally {
    await removeServiceCidrGuard();
    await cluster.stop();
  }
  return code;
}

if (process.argv[1] === import.meta.filename) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      const err = e as Error & { code?: string };
      process.stderr.write(`conformance: ${err.code ? `${err.code}: ` : ''}${err.message}\n`);
      process.exitCode = 1;
    },
  );
}
