// SKEIN_LOCAL_NODE picks the node of callers that do not name one; a typo, or the retired node agent, is an error, not a silent default.
import { describe, expect, it } from 'vitest';
import { defaultNodeKind } from './cluster.ts';

describe('defaultNodeKind', () => {
  it('is the real node unless SKEIN_LOCAL_NODE says none, and refuses anything else', () => {
    expect(defaultNodeKind({})).toBe('kubelet');
    expect(defaultNodeKind({ SKEIN_LOCAL_NODE: '' })).toBe('kubelet');
    expect(defaultNodeKind({ SKEIN_LOCAL_NODE: 'kubelet' })).toBe('kubelet');
    expect(defaultNodeKind({ SKEIN_LOCAL_NODE: 'none' })).toBe('none');
    expect(() => defaultNodeKind({ SKEIN_LOCAL_NODE: 'kublet' })).toThrow(/SKEIN_LOCAL_NODE must be kubelet or none/);
    expect(() => defaultNodeKind({ SKEIN_LOCAL_NODE: 'agent' })).toThrow(/the node agent was retired/);
  });
});
