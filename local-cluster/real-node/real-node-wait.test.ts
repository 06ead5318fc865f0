// How long a real node's start waits for another process's node: the SKEIN_REAL_NODE_WAIT_S override and its refusals.
import { describe, expect, it } from 'vitest';
import { realNodeWaitMs } from './real-node.ts';

describe('realNodeWaitMs', () => {
  it('waits 15 minutes unless told otherwise', () => {
    expect(realNodeWaitMs({})).toBe(900_000);
    expect(realNodeWaitMs({ SKEIN_REAL_NODE_WAIT_S: '' })).toBe(900_000);
  });

  it('takes whole seconds from SKEIN_REAL_NODE_WAIT_S, 0 meaning do not wait', () => {
    expect(realNodeWaitMs({ SKEIN_REAL_NODE_WAIT_S: '3600' })).toBe(3_600_000);
    expect(realNodeWaitMs({ SKEIN_REAL_NODE_WAIT_S: ' 0 ' })).toBe(0);
  });

  it.each(['-5', '1.5', '10m', 'soon', '1e9'])('refuses %j with a typed error naming the variable', (raw) => {
    expect(() => realNodeWaitMs({ SKEIN_REAL_NODE_WAIT_S: raw })).toThrow(
      expect.objectContaining({ code: 'SKEIN_ERR_LOCAL_CLUSTER_CONFIG', message: expect.stringContaining('SKEIN_REAL_NODE_WAIT_S') }),
    );
  });
});
