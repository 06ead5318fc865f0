// Unit tests for the log tailing the kubelet-API sliver applies to `kubectl logs --tail`.
import { describe, expect, it } from 'vitest';
import { tailLines } from './kubelet-server.ts';

describe('kubelet server', () => {
  it('keeps the last n lines, with or without a trailing newline', () => {
    expect(tailLines('a\nb\nc\n', 2)).toBe('b\nc\n');
    expect(tailLines('a\nb\nc', 1)).toBe('c');
    expect(tailLines('a\n', 5)).toBe('a\n');
    expect(tailLines('a\nb\n', 0)).toBe('');
  });
});
