// The `skein demo --smoke` verdict: one line per part; parts not built yet are reported as such, never as a pass.
export type SmokeStatus = 'pass' | 'fail' | 'not built yet';

export interface SmokeResult {
  readonly part: string;
  readonly status: SmokeStatus;
  readonly detail: string;
}

export function formatSmokeSummary(results: readonly SmokeResult[]): string {
  const width = Math.max(...results.map((r) => r.part.length), 4);
  const mark = { pass: 'PASS', fail: 'FAIL', 'not built yet': 'NOT BUILT YET' } as const;
  const lines = results.map((r) => `  ${r.part.padEnd(width)}  ${mark[r.status].padEnd(13)}  ${r.detail}`);
  const count = (s: SmokeStatus): number => results.filter((r) => r.status === s).length;
  lines.push('', `  ${count('pass')} passed, ${count('fail')} failed, ${count('not built yet')} not built yet`);
  return `skein demo --smoke summary:\n${lines.join('\n')}\n`;
}

/** 1 when any part that exists failed, or when nothing passed at all (a smoke run that checked nothing proves nothing). */
export function smokeExitCode(results: readonly SmokeResult[]): number {
  if (results.some((r) => r.status === 'fail')) return 1;
  return results.some((r) => r.status === 'pass') ? 0 : 1;
}
