// The pieces of `npm run conformance`: its arguments, the claims file, the suite's command line, the report's place, the
// image names taken from the suite's manifests, and the summary.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GATEWAY_API_MODULE_VERSION } from '../local-cluster/gateway-api-crds.ts';
import { parseConformanceArgs, REPORTS_DIR, reportPaths } from './conformance-args.ts';
import { checkClaims, CONFORMANCE_PROFILES, loadClaims } from './conformance-claims.ts';
import { conformanceVersions } from './conformance-suite.ts';
import { belongsToProfile, formatSummary, parseGoTestResults, parseReport, summaryPassed } from './conformance-summary.ts';
import { echoImageSpecs, suiteImageNames } from './echo-images.ts';
import { GUARD_CHAIN, guardCommands, unguardCommands } from './service-cidr-guard.ts';
import { NODE_CHAIN } from '../local-cluster/real-node/host-cleanup.ts';
import { suiteArgs } from './run-conformance.ts';

const NOW = new Date('2026-12-06T23:59:00Z');

describe('conformance arguments', () => {
  it('takes a profile in any case and defaults the rest; the date is UTC', () => {
    const r = parseConformanceArgs(['--profile', 'mesh-http'], NOW);
    expect(r).toEqual({
      ok: true,
      value: { profile: 'MESH-HTTP', runTest: undefined, skipTests: [], reportsDir: REPORTS_DIR, date: '2026-12-06', buildOnly: false, keep: false, debug: false, workDir: undefined },
    });
  });

  it('accepts each profile the command runs', () => {
    for (const p of CONFORMANCE_PROFILES) expect(parseConformanceArgs(['--profile', p], NOW)).toMatchObject({ ok: true, value: { profile: p } });
  });

  it('refuses a missing or unknown profile, a bad test name or date, and extra words, with a message', () => {
    for (const [argv, msg] of [
      [[], /--profile/],
      [['--profile', 'MESH-GRPCX'], /MESH-HTTP, GATEWAY-HTTP, GATEWAY-GRPC/],
      [['--profile', 'MESH-HTTP', '--run-test', 'mesh basic'], /ShortName/],
      [['--profile', 'MESH-HTTP', '--date', '2026-13-45'], /YYYY-MM-DD/],
      [['--profile', 'MESH-HTTP', 'extra'], /too many arguments|unknown|excess/i],
      [['--profile', 'MESH-HTTP', '--run-test', 'MeshBasic', '--skip-tests', 'MeshPorts,MeshBasic'], /also in --skip-tests/],
    ] as const) {
      const r = parseConformanceArgs(argv, NOW);
      expect(r.ok, JSON.stringify(argv)).toBe(false);
      if (!r.ok) {
        expect(r.help).toBe(false);
        expect(r.message).toMatch(msg);
      }
    }
  });

  it('--help is not an error', () => {
    const r = parseConformanceArgs(['--help'], NOW);
    expect(r).toMatchObject({ ok: false, help: true });
    if (!r.ok) expect(r.message).toContain('--profile');
  });

  it('collects --skip-tests across repeats and commas', () => {
    const r = parseConformanceArgs(['--profile', 'MESH-HTTP', '--skip-tests', 'MeshPorts, MeshBasic', '--skip-tests', 'MeshFrontend'], NOW);
    expect(r.ok && r.value.skipTests).toEqual(['MeshPorts', 'MeshBasic', 'MeshFrontend']);
  });

  it('puts the report and summary in conformance/reports/<date>/<profile>', () => {
    const r = parseConformanceArgs(['--profile', 'MESH-HTTP', '--date', '2026-12-01'], NOW);
    if (!r.ok) throw new Error(r.message);
    expect(reportPaths(r.value)).toEqual({
      dir: join(REPORTS_DIR, '2026-12-01'),
      report: join(REPORTS_DIR, '2026-12-01', 'MESH-HTTP.yaml'),
      summary: join(REPORTS_DIR, '2026-12-01', 'MESH-HTTP.md'),
    });
    expect(REPORTS_DIR).toBe(join(import.meta.dirname, 'reports'));
  });
});

describe('the claims file', () => {
  it('conformance/claims.yaml is valid and claims the core features of every profile', () => {
    const r = loadClaims();
    if (!r.ok) throw new Error(r.problems.join('\n'));
    expect(r.value.gatewayClass).toBe('skein');
    expect(r.value.features['MESH-HTTP']).toEqual(expect.arrayContaining(['Mesh', 'HTTPRoute']));
    expect(r.value.features['GATEWAY-HTTP']).toEqual(expect.arrayContaining(['Gateway', 'HTTPRoute']));
    expect(r.value.features['GATEWAY-GRPC']).toEqual(expect.arrayContaining(['Gateway', 'GRPCRoute']));
    // HTTPRoute `retry` is an experimental field: GATEWAY-HTTP runs on the experimental CRDs, the others on the standard ones.
    expect(r.value.channels).toEqual({ 'MESH-HTTP': 'standard', 'GATEWAY-HTTP': 'experimental', 'GATEWAY-GRPC': 'standard' });
  });

  it('reports every problem at once, each with its path', () => {
    const r = checkClaims({
      gatewayClass: 'Not A Name',
      implementation: { organization: 'x', project: '', url: 'ftp://x', contact: [] },
      profiles: { 'MESH-HTTP': { features: ['HTTPRoute', 'HTTPRoute', 'bad name'], crdChannel: 'beta', extra: true }, 'MESH-TCP': { features: ['Mesh'] }, 'GATEWAY-HTTP': { features: [] } },
      extra: 1,
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toEqual(
      expect.arrayContaining([
        'extra: unknown field',
        'gatewayClass: must be a Kubernetes object name',
        'implementation.project: required, a non-empty string',
        'implementation.url: must be an http(s) URL',
        'implementation.contact: required, a non-empty list of strings',
        'profiles.MESH-HTTP.features[1]: HTTPRoute is listed twice',
        'profiles.MESH-HTTP.features[2]: "bad name" is not a feature name',
        'profiles.MESH-HTTP.extra: unknown field',
        'profiles.MESH-HTTP.crdChannel: "beta" is not standard or experimental',
        'profiles.MESH-TCP: unknown profile (one of MESH-HTTP, GATEWAY-HTTP, GATEWAY-GRPC)',
        'profiles.GATEWAY-HTTP.features: required, a non-empty list',
        'profiles.GATEWAY-GRPC: missing',
        'profiles.MESH-HTTP.features: must include Mesh (its core feature)',
      ]),
    );
  });

  it('a YAML syntax error is a problem, not a throw', () => {
    const r = loadClaims(join(import.meta.dirname, 'conformance-command.test.ts'));
    expect(r.ok).toBe(false);
  });
});

describe('versions', () => {
  it('the suite is built at the release whose CRDs the cluster gets', () => {
    expect(conformanceVersions().gatewayApi).toBe(GATEWAY_API_MODULE_VERSION);
    expect(readFileSync(join(import.meta.dirname, 'build-suite.sh'), 'utf8')).toContain('versions.env');
  });
});

describe("the suite's command line", () => {
  it('passes the claims, the profile, the injection label and the report path', () => {
    const claims = loadClaims();
    const args = parseConformanceArgs(['--profile', 'MESH-HTTP', '--run-test', 'MeshBasic', '--debug'], NOW);
    if (!claims.ok || !args.ok) throw new Error('fixtures');
    const out = suiteArgs(args.value, claims.value, '/r/MESH-HTTP.yaml', 'v0.1.0+abc');
    expect(out).toEqual(
      expect.arrayContaining([
        '--gateway-class=skein',
        '--conformance-profiles=MESH-HTTP',
        `--supported-features=${claims.value.features['MESH-HTTP'].join(',')}`,
        '--namespace-labels=skein.dev/inject=enabled',
        '--report-output=/r/MESH-HTTP.yaml',
        '--version=v0.1.0+abc',
        '--organization=Skein',
        '--run-test=MeshBasic',
        '--debug',
      ]),
    );
    expect(out.some((x) => x.startsWith('--skip-tests'))).toBe(false);
  });
});

describe('backend images', () => {
  const yamlA = 'spec:\n  containers:\n  - name: echo\n    image: registry.k8s.io/gateway-api/echo-advanced:v1.5.1\n    imagePullPolicy: IfNotPresent\n';
  const yamlB = 'containers:\n  - image: "registry.k8s.io/gateway-api/echo-basic:v1.6.0-dev.2"\n    name: x\n        image: registry.k8s.io/gateway-api/echo-basic:v1.5.1\n  - image: registry.k8s.io/coredns/coredns:v1.12.2\n';

  it("takes the images' names from the suite's manifests, each once", () => {
    expect(suiteImageNames([yamlA, yamlB, yamlA])).toEqual({
      echoBasic: ['registry.k8s.io/gateway-api/echo-basic:v1.5.1', 'registry.k8s.io/gateway-api/echo-basic:v1.6.0-dev.2'],
      echoAdvanced: ['registry.k8s.io/gateway-api/echo-advanced:v1.5.1'],
      coredns: ['registry.k8s.io/coredns/coredns:v1.12.2'],
    });
  });

  it("echo-advanced is Istio's echo app as its Dockerfile describes it: server as entrypoint, client on PATH, the cert files", () => {
    const d = mkdtempSync(join(tmpdir(), 'skein-echo-test-'));
    try {
      for (const f of ['server', 'client', 'cert.crt', 'cert.key', 'echo-basic', 'coredns']) writeFileSync(join(d, f), f);
      const names = { echoBasic: ['r/echo-basic:v1'], echoAdvanced: ['r/echo-advanced:v1', 'r/echo-advanced:v2'], coredns: ['r/coredns:v1'] };
      const specs = echoImageSpecs({ echoBasic: join(d, 'echo-basic'), echoAdvancedDir: d }, names, join(d, 'coredns'));
      expect(specs.map((s) => [s.name, s.aliases, s.config.entrypoint, s.config.user])).toEqual([
        ['r/echo-basic:v1', [], ['/echo-basic'], '65532:65532'],
        ['r/echo-advanced:v1', ['r/echo-advanced:v2'], ['/usr/local/bin/server'], '1338:1338'],
        // The DNS backend of the Gateway tests: the local cluster's CoreDNS, as root (it binds 53 with the pod's NET_BIND_SERVICE).
        ['r/coredns:v1', [], ['/coredns'], '0:0'],
      ]);
      expect(specs[2]!.layers.flatMap((l) => l.entries()).filter((e) => e.kind === 'host-file').map((e) => e.path)).toEqual(['coredns']);
      const files = specs[1]!.layers.flatMap((l) => l.entries()).filter((e) => e.kind === 'host-file').map((e) => e.path);
      expect(files).toEqual(['usr/local/bin/server', 'usr/local/bin/client', 'cert.crt', 'cert.key']);
      expect(specs[1]!.config.env).toContain('PATH=/usr/local/bin:/usr/bin:/bin');
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

const GO_OUTPUT = `=== RUN   TestConformance
=== RUN   TestConformance/MeshBasic
    suite.go:10: 2026-12-06T11:00:00Z: Skipping GatewayFoo: suite does not support Gateway
--- FAIL: TestConformance (100.00s)
    --- PASS: TestConformance/MeshBasic (3.20s)
        --- PASS: TestConformance/MeshBasic/0_request_to_'echo' (3.10s)
    --- FAIL: TestConformance/MeshPorts (60.01s)
    --- SKIP: TestConformance/GatewayFoo (0.00s)
    conformance.go:56: Skipping MeshHTTPRouteRewritePath: suite does not support MeshHTTPRouteRewritePath
    --- SKIP: TestConformance/MeshHTTPRouteRewritePath (0.00s)
FAIL
`;

const REPORT = `apiVersion: gateway.networking.k8s.io/v1
date: "2026-12-06T11:00:00Z"
gatewayAPIChannel: standard
gatewayAPIVersion: v1.6.3
implementation: { organization: Skein, project: skein, url: https://skein.dev, version: v0.1.0+abc, contact: [x] }
kind: ConformanceReport
mode: default
profiles:
- name: MESH-HTTP
  summary: Core tests failed with 1 test failures.
  core:
    result: failure
    statistics: { Failed: 1, Passed: 1, Skipped: 0 }
    failedTests: [MeshPorts]
  extended:
    result: success
    statistics: { Failed: 0, Passed: 0, Skipped: 0 }
    supportedFeatures: [MeshClusterIPMatching]
    unsupportedFeatures: [MeshHTTPRouteRewritePath]
`;

describe('the summary', () => {
  it("reads each conformance test's result and a skip's reason from go test -v", () => {
    expect(parseGoTestResults(GO_OUTPUT)).toEqual([
      { name: 'MeshBasic', result: 'pass', seconds: 3.2 },
      { name: 'MeshPorts', result: 'fail', seconds: 60.01 },
      { name: 'GatewayFoo', result: 'skip', seconds: 0, reason: 'suite does not support Gateway' },
      { name: 'MeshHTTPRouteRewritePath', result: 'skip', seconds: 0, reason: 'suite does not support MeshHTTPRouteRewritePath' },
    ]);
  });

  it('tells which tests belong to a profile', () => {
    expect(belongsToProfile('MeshBasic', 'MESH-HTTP')).toBe(true);
    expect(belongsToProfile('MeshGRPCRouteWeight', 'MESH-HTTP')).toBe(false);
    expect(belongsToProfile('HTTPRouteSimpleSameNamespace', 'MESH-HTTP')).toBe(false);
    expect(belongsToProfile('HTTPRouteSimpleSameNamespace', 'GATEWAY-HTTP')).toBe(true);
    expect(belongsToProfile('GRPCRouteWeight', 'GATEWAY-GRPC')).toBe(true);
    expect(belongsToProfile('GRPCRouteWeight', 'GATEWAY-HTTP')).toBe(false);
  });

  it("lists the results, the unclaimed extended features and this profile's skipped tests; a failure is a FAIL", () => {
    const report = parseReport(REPORT);
    const input = {
      profile: 'MESH-HTTP' as const,
      date: '2026-12-06',
      suiteVersion: 'v1.6.3',
      report,
      tests: parseGoTestResults(GO_OUTPUT),
      claimed: ['Mesh', 'HTTPRoute'],
      skippedOnRequest: [],
      timings: { 'suite build': 1.2, suite: 100 },
      exitCode: 1,
      reportFile: 'MESH-HTTP.yaml',
    };
    expect(summaryPassed(input)).toBe(false);
    const md = formatSummary(input);
    expect(md).toContain('Result: **FAIL**: 1 passed, 1 failed, 1 of this profile skipped');
    expect(md).toContain('Core: failure (1 passed, 1 failed, 0 skipped)');
    expect(md).toContain('not claimed (the suite skips their tests, as it allows): MeshHTTPRouteRewritePath');
    expect(md).toContain('| MeshPorts | FAIL | 60.0 |');
    expect(md).toContain('- MeshHTTPRouteRewritePath: suite does not support MeshHTTPRouteRewritePath');
    expect(md).not.toContain('GatewayFoo');
    expect(md).toContain('Timings: suite build 1 s, suite 100 s');
  });

  it('passes only when the suite exited 0 and nothing failed', () => {
    const ok = parseReport(REPORT.replace('Failed: 1, Passed: 1', 'Failed: 0, Passed: 2'));
    const tests = parseGoTestResults(GO_OUTPUT.replace('--- FAIL: TestConformance/MeshPorts', '--- PASS: TestConformance/MeshPorts'));
    expect(summaryPassed({ profile: 'MESH-HTTP', report: ok, tests, exitCode: 0 })).toBe(true);
    expect(summaryPassed({ profile: 'MESH-HTTP', report: ok, tests, exitCode: 1 })).toBe(false);
    expect(summaryPassed({ profile: 'MESH-HTTP', report: null, tests, exitCode: 0 })).toBe(false);
    expect(summaryPassed({ profile: 'GATEWAY-HTTP', report: ok, tests, exitCode: 0 })).toBe(false);
  });
});

describe('the Service range guard', () => {
  it('refuses only what kube-proxy did not rewrite (filter OUTPUT, Service range) and is a chain the real node cleanup removes', () => {
    const cmds = guardCommands('10.96.0.0/16');
    expect(cmds[1]).toEqual(['-w', '-A', GUARD_CHAIN, '-d', '10.96.0.0/16', '-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset']);
    expect(cmds[2]).toEqual(['-w', '-I', 'OUTPUT', '-j', GUARD_CHAIN]);
    expect(NODE_CHAIN.test(GUARD_CHAIN)).toBe(true);
    expect(unguardCommands().map((c) => c[1])).toEqual(['-D', '-F', '-X']);
  });
});
