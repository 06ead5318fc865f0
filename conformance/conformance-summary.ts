// The short summary written beside the official report: per-test results from the suite's `go test -v` output, the profile's
// results and claimed/unclaimed features from the report, and how long each step took.
import { parse } from 'yaml';
import type { ConformanceProfile } from './conformance-claims.ts';

export interface TestResult {
  readonly name: string;
  readonly result: 'pass' | 'fail' | 'skip';
  readonly seconds: number;
  /** For a skip: the suite's reason ("suite does not support X", "test explicitly skipped"). */
  readonly reason?: string;
}

/** The top-level subtests of TestConformance (one per conformance test), in the order they ended. */
export function parseGoTestResults(output: string): TestResult[] {
  const reasons = new Map<string, string>();
  for (const m of output.matchAll(/Skipping (\w+): (.+)$/gm)) reasons.set(m[1]!, m[2]!.trim());
  const out: TestResult[] = [];
  for (const m of output.matchAll(/^\s*--- (PASS|FAIL|SKIP): TestConformance\/(\w+) \(([\d.]+)s\)$/gm)) {
    const result = m[1] === 'PASS' ? 'pass' : m[1] === 'FAIL' ? 'fail' : 'skip';
    const reason = result === 'skip' ? reasons.get(m[2]!) : undefined;
    out.push({ name: m[2]!, result, seconds: Number(m[3]), ...(reason ? { reason } : {}) });
  }
  return out;
}

/**
 * Whether a conformance test belongs to the profile, by the suite's naming (mesh tests are Mesh*, gRPC ones name GRPC): used
 * only to keep the other profiles' skipped tests out of the summary; the report itself is the suite's.
 */
export function belongsToProfile(test: string, profile: ConformanceProfile): boolean {
  const mesh = test.startsWith('Mesh');
  const grpc = test.includes('GRPC');
  switch (profile) {
    case 'MESH-HTTP':
      return mesh && !grpc;
    case 'GATEWAY-HTTP':
      return !mesh && !grpc && !/^(TLSRoute|UDPRoute|TCPRoute)/.test(test);
    case 'GATEWAY-GRPC':
      return !mesh && (grpc || /^Gateway/.test(test));
  }
}

export interface ProfileOutcome {
  readonly result: string;
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly failedTests: readonly string[];
}

export interface ReportProfile {
  readonly name: string;
  readonly summary: string;
  readonly core: ProfileOutcome | null;
  readonly extended: (ProfileOutcome & { readonly supportedFeatures: readonly string[]; readonly unsupportedFeatures: readonly string[] }) | null;
}

export interface ParsedReport {
  readonly gatewayAPIVersion: string;
  readonly gatewayAPIChannel: string;
  readonly implementationVersion: string;
  readonly profiles: readonly ReportProfile[];
}

function outcome(v: unknown): ProfileOutcome | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as { result?: string; statistics?: Record<string, number>; failedTests?: string[] };
  return {
    result: o.result ?? 'unknown',
    passed: o.statistics?.Passed ?? 0,
    failed: o.statistics?.Failed ?? 0,
    skipped: o.statistics?.Skipped ?? 0,
    failedTests: o.failedTests ?? [],
  };
}

/** The parts of the suite's ConformanceReport the summary shows. */
export function parseReport(yamlText: string): ParsedReport {
  const doc = parse(yamlText) as {
    gatewayAPIVersion?: string;
    gatewayAPIChannel?: string;
    implementation?: { version?: string };
    profiles?: { name?: string; summary?: string; core?: unknown; extended?: { supportedFeatures?: string[]; unsupportedFeatures?: string[] } }[];
  } | null;
  return {
    gatewayAPIVersion: doc?.gatewayAPIVersion ?? '',
    gatewayAPIChannel: doc?.gatewayAPIChannel ?? '',
    implementationVersion: doc?.implementation?.version ?? '',
    profiles: (doc?.profiles ?? []).map((p) => {
      const ext = outcome(p.extended);
      return {
        name: p.name ?? '',
        summary: p.summary ?? '',
        core: outcome(p.core),
        extended: ext ? { ...ext, supportedFeatures: p.extended?.supportedFeatures ?? [], unsupportedFeatures: p.extended?.unsupportedFeatures ?? [] } : null,
      };
    }),
  };
}

export interface SummaryInput {
  readonly profile: ConformanceProfile;
  readonly date: string;
  readonly suiteVersion: string;
  readonly report: ParsedReport | null;
  readonly tests: readonly TestResult[];
  readonly claimed: readonly string[];
  /** Tests skipped on request (--skip-tests), with the reason the operator gives in docs. */
  readonly skippedOnRequest: readonly string[];
  /** Step -> seconds (suite build, cluster ready, Skein installed, suite run). */
  readonly timings: Readonly<Record<string, number>>;
  readonly exitCode: number;
  readonly reportFile: string;
}

const fmtOutcome = (o: ProfileOutcome | null): string => (o ? `${o.result} (${o.passed} passed, ${o.failed} failed, ${o.skipped} skipped)` : 'not run');

/** True when every test the suite ran for the profile passed and the suite itself succeeded. */
export function summaryPassed(s: Pick<SummaryInput, 'report' | 'tests' | 'profile' | 'exitCode'>): boolean {
  const p = s.report?.profiles.find((x) => x.name === s.profile);
  if (!p || s.exitCode !== 0) return false;
  return (p.core?.failed ?? 0) === 0 && (p.extended?.failed ?? 0) === 0 && !s.tests.some((t) => t.result === 'fail');
}

export function formatSummary(s: SummaryInput): string {
  const p = s.report?.profiles.find((x) => x.name === s.profile) ?? null;
  const ran = s.tests.filter((t) => t.result !== 'skip');
  const skipped = s.tests.filter((t) => t.result === 'skip' && belongsToProfile(t.name, s.profile));
  const lines = [
    `# Gateway API conformance: ${s.profile}, ${s.date}`,
    '',
    `- Suite: sigs.k8s.io/gateway-api/conformance ${s.suiteVersion}${s.report ? ` (CRDs ${s.report.gatewayAPIVersion}, ${s.report.gatewayAPIChannel} channel)` : ''}; Skein ${s.report?.implementationVersion || '?'}`,
    `- Official report: [${s.reportFile}](${s.reportFile})${s.report ? '' : ' (not written: the suite did not finish)'}`,
    `- Result: **${summaryPassed(s) ? 'PASS' : 'FAIL'}**: ${ran.filter((t) => t.result === 'pass').length} passed, ${ran.filter((t) => t.result === 'fail').length} failed, ${skipped.length} of this profile skipped (suite exit code ${s.exitCode})`,
    `- Core: ${fmtOutcome(p?.core ?? null)}; extended: ${fmtOutcome(p?.extended ?? null)}`,
    `- Claimed features: ${s.claimed.join(', ')}`,
  ];
  const unsupported = p?.extended?.unsupportedFeatures ?? [];
  lines.push(`- Extended features not claimed (the suite skips their tests, as it allows): ${unsupported.length > 0 ? unsupported.join(', ') : 'none'}`);
  if (s.skippedOnRequest.length > 0) lines.push(`- Skipped on request (--skip-tests): ${s.skippedOnRequest.join(', ')}`);
  const t = Object.entries(s.timings);
  if (t.length > 0) lines.push(`- Timings: ${t.map(([k, v]) => `${k} ${Math.round(v)} s`).join(', ')}`);
  lines.push('', '| test | result | seconds |', '|---|---|---|');
  for (const x of ran) lines.push(`| ${x.name} | ${x.result.toUpperCase()} | ${x.seconds.toFixed(1)} |`);
  if (skipped.length > 0) {
    lines.push('', 'Skipped tests of this profile:', '');
    for (const x of skipped) lines.push(`- ${x.name}: ${x.reason ?? 'skipped'}`);
  }
  return `${lines.join('\n')}\n`;
}
