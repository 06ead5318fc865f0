// Node defines the global `performance` as an accessor (a lazy getter), so each `performance.now()` on the request path
// reads it through a getter call: V8's LoadGlobalIC builtin, about 100 instructions, eight times or more per request with
// the policy defaults (bench/instructions.ts --proto h1 --policy-defaults). The proxy process makes it a plain data
// property holding the same object: the read becomes a cached load, and tests' fake timers can still replace it.

/** Makes globalThis.performance a writable data property (idempotent; a no-op if it already is one). */
export function pinPerformanceGlobal(): void {
  const d = Object.getOwnPropertyDescriptor(globalThis, 'performance');
  if (d === undefined || d.get === undefined) return;
  const value = performance;
  Object.defineProperty(globalThis, 'performance', { value, writable: true, configurable: true, enumerable: d.enumerable ?? true });
}
