// The command line of `npm run conformance`: which profile, which tests, where the report goes; parsed with commander.
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { join } from 'node:path';
import { CONFORMANCE_PROFILES, isConformanceProfile, type ConformanceProfile } from './conformance-claims.ts';

export const REPORTS_DIR = join(import.meta.dirname, 'reports');

export interface ConformanceArgs {
  readonly profile: ConformanceProfile;
  /** Only this test (the suite's ShortName, e.g. MeshBasic). */
  readonly runTest: string | undefined;
  /** Tests the suite skips (names the summary lists as skipped on request). */
  readonly skipTests: readonly string[];
  /** The report and summary go to <reportsDir>/<date>/<profile>.{yaml,md}. */
  readonly reportsDir: string;
  /** YYYY-MM-DD (UTC) of the run: the report's folder. */
  readonly date: string;
  /** Build the suite and its images, then stop (no cluster). */
  readonly buildOnly: boolean;
  /** Leave the cluster running when the suite ends (Ctrl-C stops it). */
  readonly keep: boolean;
  /** The suite's --debug (logs every request and response). */
  readonly debug: boolean;
  /** Where the cluster keeps its files (default: a folder in the skein cache). */
  readonly workDir: string | undefined;
}

export type ArgsResult = { readonly ok: true; readonly value: ConformanceArgs } | { readonly ok: false; readonly message: string; readonly help: boolean };

const TEST_NAME = /^[A-Z][A-Za-z0-9]*$/;

function profileArg(v: string): ConformanceProfile {
  const up = v.toUpperCase();
  if (!isConformanceProfile(up)) throw new InvalidArgumentError(`one of ${CONFORMANCE_PROFILES.join(', ')}`);
  return up;
}

function testName(v: string): string {
  if (!TEST_NAME.test(v)) throw new InvalidArgumentError('a test ShortName such as MeshBasic');
  return v;
}

function testList(v: string, prev: string[] = []): string[] {
  return [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean).map(testName)];
}

function dateArg(v: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00Z`))) throw new InvalidArgumentError('a date as YYYY-MM-DD');
  return v;
}

/** Parses `argv` (without node and the script); `now` gives the default date. Never exits the process. */
export function parseConformanceArgs(argv: readonly string[], now: Date = new Date()): ArgsResult {
  let out = '';
  const program = new Command('npm run conformance --')
    .description('run the Gateway API conformance suite against Skein on the local cluster (real node) and write the official report')
    .requiredOption('--profile <name>', `the conformance profile: ${CONFORMANCE_PROFILES.join(', ')}`, profileArg)
    .option('--run-test <name>', 'run only this test (its ShortName, e.g. MeshBasic)', testName)
    .option('--skip-tests <names>', 'comma-separated tests to skip (listed in the summary)', testList)
    .option('--reports-dir <dir>', 'where <date>/<profile>.yaml and .md go', REPORTS_DIR)
    .option('--date <yyyy-mm-dd>', 'the report folder (default: today, UTC)', dateArg)
    .option('--build-only', 'build the suite, its backends and their images, then stop')
    .option('--keep', 'leave the cluster running after the suite (Ctrl-C stops it)')
    .option('--debug', "the suite's debug logging")
    .option('--work-dir <dir>', 'where the cluster keeps its files')
    .helpOption('-h, --help', 'this help')
    .exitOverride()
    .configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) })
    .allowExcessArguments(false);
  try {
    program.parse([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      const help = e.code === 'commander.helpDisplayed' || e.code === 'commander.help';
      return { ok: false, message: (help ? out : e.message.replace(/^error: /, '')).trim(), help };
    }
    throw e;
  }
  const o = program.opts<{
    profile: ConformanceProfile;
    runTest?: string;
    skipTests?: string[];
    reportsDir: string;
    date?: string;
    buildOnly?: boolean;
    keep?: boolean;
    debug?: boolean;
    workDir?: string;
  }>();
  if (o.runTest && o.skipTests?.includes(o.runTest)) return { ok: false, message: `--run-test ${o.runTest} is also in --skip-tests`, help: false };
  return {
    ok: true,
    value: {
      profile: o.profile,
      runTest: o.runTest,
      skipTests: o.skipTests ?? [],
      reportsDir: o.reportsDir,
      date: o.date ?? now.toISOString().slice(0, 10),
      buildOnly: o.buildOnly === true,
      keep: o.keep === true,
      debug: o.debug === true,
      workDir: o.workDir,
    },
  };
}

/** Where a run's official report and summary go. */
export function reportPaths(a: Pick<ConformanceArgs, 'reportsDir' | 'date' | 'profile'>): { dir: string; report: string; summary: string } {
  const dir = join(a.reportsDir, a.date);
  return { dir, report: join(dir, `${a.profile}.yaml`), summary: join(dir, `${a.profile}.md`) };
}
