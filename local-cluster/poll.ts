// Polls a check until it yields a value or a deadline passes (errors count as "not yet"); the demo waits with this, never with fixed sleeps.
export async function poll<T>(check: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 500): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch {}
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return undefined;
}
