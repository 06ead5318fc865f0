// Unit tests of the IP allow/deny layer and of who the client is behind trusted x-forwarded-for hops.
import { describe, expect, it } from 'vitest';
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';
import { ProxyRequest, type DownstreamInfo } from '../stack/proxy-request.ts';
import { ProxyResponse } from '../stack/proxy-response.ts';
import type { Service } from '../stack/service.ts';
import { canonicalAddress, clientAddress, trustedForwardedEntries } from './client-address.ts';
import { IpMatcher, ipFilterLayer } from './ip-filter.ts';

function request(peer: string, xff?: string): ProxyRequest {
  const downstream: DownstreamInfo = { listener: 'edge', direction: 'ingress', clientAddress: peer, clientPort: 1, tls: false, sni: null, peerIdentity: null, originalDst: null };
  const clientHeaders: Record<string, string> = xff === undefined ? {} : { 'x-forwarded-for': xff };
  return new ProxyRequest('GET', 'a.test', '/', {}, null, downstream, false, 0, clientHeaders);
}

const ok: Service = () => Promise.resolve(new ProxyResponse(200, {}, null));

async function status(svc: Service, req: ProxyRequest): Promise<number | string> {
  try {
    return (await svc(req)).status;
  } catch (e) {
    return (e as ProxyError).spec.cause;
  }
}

describe('client address', () => {
  it('canonicalizes IPv4-mapped IPv6, ports, brackets and junk', () => {
    expect(canonicalAddress('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(canonicalAddress(' 10.0.0.1:443 ')).toBe('10.0.0.1');
    expect(canonicalAddress('[2001:DB8::1]:80')).toBe('2001:db8::1');
    expect(canonicalAddress('2001:db8::1')).toBe('2001:db8::1');
    expect(canonicalAddress('unknown')).toBe('');
    expect(canonicalAddress('10.0.0.1.evil')).toBe('');
  });

  it('with no trusted hop the peer is the client, whatever x-forwarded-for says', () => {
    expect(clientAddress('192.0.2.7', '10.0.0.1', 0)).toBe('192.0.2.7');
  });

  it('with one trusted hop the last entry is the client and a spoofed earlier entry is not believed', () => {
    // The client wrote "10.0.0.1"; the trusted balancer appended the address it saw, 203.0.113.9.
    expect(clientAddress('192.0.2.7', '10.0.0.1, 203.0.113.9', 1)).toBe('203.0.113.9');
    expect(clientAddress('192.0.2.7', ['10.0.0.1', '203.0.113.9'], 1)).toBe('203.0.113.9');
    expect(clientAddress('192.0.2.7', '10.0.0.1, 198.51.100.1, 203.0.113.9', 2)).toBe('198.51.100.1');
    // Fewer entries than trusted hops: the leftmost (a client that reached the inner proxy directly).
    expect(clientAddress('192.0.2.7', '203.0.113.9', 2)).toBe('203.0.113.9');
    // No header at all: the peer.
    expect(clientAddress('192.0.2.7', undefined, 1)).toBe('192.0.2.7');
    expect(clientAddress('192.0.2.7', 'garbage', 1)).toBe('');
  });

  it('keeps only the trusted entries toward the upstream', () => {
    expect(trustedForwardedEntries('1.1.1.1, 10.0.0.1, 203.0.113.9', 1)).toEqual(['203.0.113.9']);
    expect(trustedForwardedEntries('1.1.1.1, 203.0.113.9', 0)).toEqual([]);
  });
});

describe('ip filter layer', () => {
  it('deny list: a listed client gets 403 ip-denied, others pass; deny wins over allow', async () => {
    const m = new IpMatcher({ allow: ['10.0.0.0/8'], deny: ['10.1.0.0/16', '2001:db8::/32'] });
    const svc = ipFilterLayer(m, 0, { denied: 0 })(ok);
    expect(await status(svc, request('10.2.3.4'))).toBe(200);
    expect(await status(svc, request('10.1.2.3'))).toBe(ERRORS.ipDenied.cause);
    expect(await status(svc, request('192.0.2.1'))).toBe('ip-denied'); // outside the allow list
    expect(await status(svc, request('2001:db8::5'))).toBe('ip-denied');
    expect(await status(svc, request('::ffff:10.2.3.4'))).toBe(200);
  });

  it('IPv6 allow list and bare addresses', async () => {
    const m = new IpMatcher({ allow: ['2001:db8:1::/48', '192.0.2.10'], deny: [] });
    expect(m.allows('2001:db8:1:2::9')).toBe(true);
    expect(m.allows('2001:db8:2::9')).toBe(false);
    expect(m.allows('192.0.2.10')).toBe(true);
    expect(m.allows('192.0.2.11')).toBe(false);
    expect(m.allows('')).toBe(false);
  });

  it('behind one trusted hop the allow list sees the real client; a spoofed extra hop is not believed', async () => {
    const counters = { denied: 0 };
    const svc = ipFilterLayer(new IpMatcher({ allow: ['203.0.113.0/24'], deny: [] }), 1, counters)(ok);
    expect(await status(svc, request('192.0.2.7', '203.0.113.9'))).toBe(200);
    // The client claims to be 203.0.113.5; the balancer saw 198.51.100.1.
    expect(await status(svc, request('192.0.2.7', '203.0.113.5, 198.51.100.1'))).toBe('ip-denied');
    // An unparsable entry fails closed.
    expect(await status(svc, request('192.0.2.7', 'nonsense'))).toBe('ip-denied');
    expect(counters.denied).toBe(2);
  });

  it('the denial is a ProxyError from the catalogue (so the rescue answers 403 / PERMISSION_DENIED)', async () => {
    const svc = ipFilterLayer(new IpMatcher({ allow: [], deny: ['0.0.0.0/0'] }), 0, { denied: 0 })(ok);
    const e = await svc(request('192.0.2.1')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProxyError);
    expect((e as ProxyError).spec.status).toBe(403);
    expect((e as ProxyError).spec.grpcStatus).toBe(7);
  });
});
