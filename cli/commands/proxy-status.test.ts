// The proxy-status table: one line per proxy in namespace/name order, and the reasons of NACKED proxies.
import { describe, expect, it } from 'vitest';
import { formatProxyStatus, type ProxyStatusRow } from './proxy-status.ts';

const row = (podName: string, namespace: string, status: string, extra: Partial<ProxyStatusRow> = {}): ProxyStatusRow => ({
  id: `${podName}.${namespace}`,
  podName,
  namespace,
  replica: 'cp-0',
  status,
  ackedVersion: 'v1',
  latestVersion: 'v1',
  nackReasons: [],
  lastContactAt: '2026-12-03T18:00:00.000Z',
  ...extra,
});

describe('formatProxyStatus', () => {
  it('prints a table and the reasons of every rejection', () => {
    const now = Date.parse('2026-12-03T18:00:05.000Z');
    const text = formatProxyStatus(
      [row('web-1', 'demo', 'SYNCED'), row('api-1', 'demo', 'NACKED', { latestVersion: 'v2', nackReasons: [{ type: 'cluster', name: 'echo', message: 'bad port' }] }), row('a', 'alpha', 'STALE', { ackedVersion: '' })],
      now,
    );
    expect(text).toBe(
      [
        'NAME   NAMESPACE  STATUS  ACKED  LATEST  REPLICA  LAST CONTACT',
        'a      alpha      STALE   -      v1      cp-0     5s',
        'api-1  demo       NACKED  v1     v2      cp-0     5s',
        'web-1  demo       SYNCED  v1     v1      cp-0     5s',
        '',
        'api-1.demo rejected v2:',
        '  cluster/echo: bad port',
        '',
      ].join('\n'),
    );
  });
});
