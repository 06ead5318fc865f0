// Unit tests of the smoke verdict: unbuilt parts never count as passes, any failure of an existing part fails the run.
import { describe, expect, it } from 'vitest';
import { formatSmokeSummary, smokeExitCode, type SmokeResult } from './smoke-summary.ts';

const pass: SmokeResult = { part: 'local cluster', status: 'pass', detail: 'API ready' };
const unbuilt: SmokeResult = { part: 'injector', status: 'not built yet', detail: 'no manifests/injector.yaml' };
const fail: SmokeResult = { part: 'prometheus', status: 'fail', detail: 'not ready' };

describe('smoke summary', () => {
  it('exits 0 when every existing part passes, even with parts not built yet', () => {
    expect(smokeExitCode([pass, unbuilt])).toBe(0);
  });
  it('exits 1 when an existing part fails', () => {
    expect(smokeExitCode([pass, unbuilt, fail])).toBe(1);
  });
  it('exits 1 when nothing was checked at all', () => {
    expect(smokeExitCode([unbuilt])).toBe(1);
  });
  it('prints not built yet distinctly from a pass and counts each status', () => {
    const text = formatSmokeSummary([pass, unbuilt, fail]);
    expect(text).toMatch(/injector\s+NOT BUILT YET\s+no manifests\/injector.yaml/);
    expect(text).toMatch(/local cluster\s+PASS/);
    expect(text).toContain('1 passed, 1 failed, 1 not built yet');
  });
});
