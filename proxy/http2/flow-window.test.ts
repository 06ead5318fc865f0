// Our receive-window policy: WINDOW_UPDATE only as the application consumes, in batches of half the window; overflow checks.
import { describe, expect, it } from 'vitest';
import { RecvWindow, grow } from './flow-window.ts';

describe('RecvWindow', () => {
  it('refuses bytes past the window (the peer overran it: FLOW_CONTROL_ERROR)', () => {
    const w = new RecvWindow(100);
    expect(w.receive(60)).toBe(true);
    expect(w.receive(40)).toBe(true);
    expect(w.receive(1)).toBe(false);
  });

  it('returns window only for consumed bytes, batched until half the window is used', () => {
    const w = new RecvWindow(100);
    w.receive(30);
    expect(w.consume(30)).toBe(0); // 70 still available: no update yet
    w.receive(30);
    expect(w.available).toBe(40);
    expect(w.consume(10)).toBe(40); // more than half used: everything consumed so far goes back in one update
    expect(w.available).toBe(80);
    w.receive(20);
    expect(w.consume(20)).toBe(0);
  });

  it('bytes received but not consumed (a reader pushing back) are never returned', () => {
    const w = new RecvWindow(100);
    expect(w.receive(100)).toBe(true);
    expect(w.consume(0)).toBe(0);
    expect(w.receive(1)).toBe(false);
  });

  it('never grants more than the window it advertised', () => {
    const w = new RecvWindow(100);
    w.receive(10);
    expect(w.consume(10)).toBe(0);
    w.receive(90);
    expect(w.consume(90)).toBe(100);
    expect(w.available).toBe(100);
  });

  it('a window the peer believes smaller (a connection before our first update) is tracked from there', () => {
    const w = new RecvWindow(1 << 20, 65_535);
    expect(w.receive(65_535)).toBe(true);
    expect(w.receive(1)).toBe(false);
  });
});

describe('grow', () => {
  it('refuses a send window past 2^31-1 and allows a negative one to recover', () => {
    expect(grow(0x7fffffff - 10, 10)).toBe(0x7fffffff);
    expect(grow(0x7fffffff - 10, 11)).toBeNull();
    expect(grow(-5, 6)).toBe(1);
  });
});
