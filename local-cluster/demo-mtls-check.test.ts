// The mTLS check reads the identity echo saw from the innermost hop of web's answer.
import { describe, expect, it } from 'vitest';
import { callerIdentitySeenByEcho } from './demo-mtls-check.ts';

const echo = (headers: Record<string, string>) => JSON.stringify({ pod: 'echo-1', headers });
const caller = (pod: string, inner: string) => JSON.stringify({ pod, upstreamStatus: 200, upstreamBody: inner });

describe('callerIdentitySeenByEcho', () => {
  it('is the x-skein-client-id echo received', () => {
    const body = caller('web-1', caller('api-1', echo({ 'x-skein-client-id': 'spiffe://cluster.local/ns/skein-demo/sa/default' })));
    expect(callerIdentitySeenByEcho(body)).toBe('spiffe://cluster.local/ns/skein-demo/sa/default');
  });
  it('is null when echo saw none, or the answer is not a journey', () => {
    expect(callerIdentitySeenByEcho(caller('web-1', caller('api-1', echo({}))))).toBeNull();
    expect(callerIdentitySeenByEcho('no endpoints available')).toBeNull();
  });
});
