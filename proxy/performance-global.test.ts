import { afterEach, describe, expect, it } from 'vitest';
import { pinPerformanceGlobal } from './performance-global.ts';

const original = Object.getOwnPropertyDescriptor(globalThis, 'performance')!;
afterEach(() => {
  Object.defineProperty(globalThis, 'performance', original);
});

describe('pinPerformanceGlobal', () => {
  it("turns Node's accessor into a writable data property holding the same object, which still tells the time", () => {
    const object = performance;
    // As Node defines it (the test runner may have defined it otherwise).
    Object.defineProperty(globalThis, 'performance', { get: () => object, set: () => {}, configurable: true, enumerable: true });
    pinPerformanceGlobal();
    const d = Object.getOwnPropertyDescriptor(globalThis, 'performance')!;
    expect(d.get).toBeUndefined();
    expect(d.value).toBe(object);
    expect(d.writable).toBe(true);
    expect(typeof performance.now()).toBe('number');
    pinPerformanceGlobal();
    expect(Object.getOwnPropertyDescriptor(globalThis, 'performance')!.value).toBe(object);
  });
});
