// The span hook layer: a hop with no span costs nothing (the inner service's own promise comes back), a hop with a span
// ends it with the answer or the error, and a throwing span starter never fails the request.
import { describe, expect, it } from 'vitest';
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';
import type { ProxyRequest } from './proxy-request.ts';
import type { ProxyResponse } from './proxy-response.ts';
import type { Service } from './service.ts';
import { spanLayer, type HopSpan } from './stack-hooks.ts';

const req = {} as ProxyRequest;
const answer = { status: 200 } as ProxyResponse;

describe('span layer', () => {
  it('is absent without a span starter', () => {
    expect(spanLayer(null, 'attempt')).toBeNull();
  });

  it('hands back the inner service\'s own promise when the hop gets no span (not sampled): no wrapper per request', () => {
    const p = Promise.resolve(answer);
    const inner: Service = () => p;
    expect(spanLayer(() => null, 'attempt')!(inner)(req)).toBe(p);
    const throwing = spanLayer(() => {
      throw new Error('telemetry bug');
    }, 'attempt')!;
    expect(throwing(inner)(req)).toBe(p);
  });

  it('ends a span with the answer, or with the error the hop failed with', async () => {
    const ended: [ProxyResponse | null, ProxyError | null][] = [];
    const span: HopSpan = { end: (res, e) => void ended.push([res, e]) };
    const layer = spanLayer(() => span, 'attempt')!;
    expect(await layer(() => Promise.resolve(answer))(req)).toBe(answer);
    const failure = new ProxyError(ERRORS.upstreamReset, 'reset');
    await expect(layer(() => Promise.reject(failure))(req)).rejects.toBe(failure);
    expect(ended).toEqual([[answer, null], [null, failure]]);
  });
});
