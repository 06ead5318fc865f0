// SKEIN_LOCAL_NODE picks the node of callers that do not name one; a typo is an error, not a silent node agent.
import { describe, expect, it } from 'vitest';
import { defaultNodeKind } from './cluster.ts';

describe('defaultNodeKind', () => {
  it('is the node agent unless SKEIN_LOCAL_NODE says kubelet, and refuses anything else', () => {
    expect(defaultNodeKind({})).toBe('agent');
    expect(defaultNodeKind({ SKEIN_LOCAL_NODE: '' })).toBe('agent');
    expect(defaultNodeKind({ SKEIN_LOCAL_NODE: 'kubelet' })).toBe('kubelet');
    expect(defaultNodeKind({ SKEIN_LOCAL_NODE: 'agent' })).toBe('agent');
    expect(() => defaultNodeKind({ SKEIN_LOCAL_NODE: 'kublet' })).toThrow(/SKEIN_LOCAL_NODE must be agent or kubelet/);
  });
});
