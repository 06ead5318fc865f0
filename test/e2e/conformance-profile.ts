// Runs one Gateway API conformance profile through `npm run conformance`'s own entry point, exactly as a user runs it, with
// its report in a temporary folder (the kept reports in conformance/reports/ are written by hand-run commands), and returns
// what the suite's official report says of the profile: the e2e conformance tests only assert that.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { parse } from 'yaml';

const REPO = join(import.meta.dirname, '..', '..');

export interface ProfileStatistics {
  readonly result: string;
  readonly statistics: { readonly Failed: number; readonly Passed: number; readonly Skipped?: number };
}

export interface ProfileReport {
  readonly name: string;
  readonly core: ProfileStatistics;
  readonly extended?: ProfileStatistics & { readonly supportedFeatures?: readonly string[] };
}

export interface ProfileRun {
  /** The command's exit status (0: every test that ran passed) and the last lines of its output, for a failure message. */
  readonly status: number | null;
  readonly tail: string;
  /** The profile's entry of the official report (undefined when the run wrote none). */
  readonly report: ProfileReport | undefined;
}

/** How long a profile may take (the suite's own timeout is 60 min; a warm run takes minutes). */
export const PROFILE_TIMEOUT_MS = 3_000_000;

export function runConformanceProfile(profile: string): ProfileRun {
  const reports = mkdtempSync(join(tmpdir(), 'skein-conformance-'));
  try {
    const run = spawnSync(join(REPO, 'node_modules', '.bin', 'node'), ['conformance/run-conformance.ts', '--profile', profile, '--reports-dir', reports], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: PROFILE_TIMEOUT_MS,
      maxBuffer: 64 << 20,
    });
    const tail = `${run.stdout ?? ''}${run.stderr ?? ''}`.split('\n').slice(-40).join('\n');
    const dated = readdirSync(reports);
    const file = dated.length === 1 ? join(reports, dated[0]!, `${profile}.yaml`) : null;
    let report: ProfileReport | undefined;
    try {
      report = file ? (parse(readFileSync(file, 'utf8')) as { profiles: ProfileReport[] }).profiles.find((p) => p.name === profile) : undefined;
    } catch {
      report = undefined;
    }
    return { status: run.status, tail, report };
  } finally {
    rmSync(reports, { recursive: true, force: true });
  }
}

/**
 * Runs the profile and asserts that the suite's report says success: the command exits 0, no core or extended test failed,
 * and at least as many passed as the kept report counts (fewer would mean tests no longer run, e.g. a claim dropped).
 */
export function expectProfilePasses(profile: string, least: { readonly core: number; readonly extended: number }): void {
  const run = runConformanceProfile(profile);
  expect(run.status, run.tail).toBe(0);
  expect(run.report, run.tail).toBeDefined();
  const r = run.report!;
  expect(r.core.result).toBe('success');
  expect(r.core.statistics.Failed).toBe(0);
  expect(r.core.statistics.Passed).toBeGreaterThanOrEqual(least.core);
  expect(r.extended?.result).toBe('success');
  expect(r.extended?.statistics.Failed).toBe(0);
  expect(r.extended?.statistics.Passed).toBeGreaterThanOrEqual(least.extended);
}
