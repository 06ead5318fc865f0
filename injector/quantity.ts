// Parses Kubernetes resource quantities ("100m", "64Mi", "1.5", "2e3") to numbers, so the injector can validate and compare them.

const SUFFIX: Readonly<Record<string, number>> = {
  '': 1, n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

// The grammar of resource.Quantity: unsigned here (negative requests make no sense for a sidecar).
const QUANTITY_RE = /^(\d+(?:\.\d*)?|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$/;

/** The quantity's value in base units (cores, bytes), or null when it is not a valid quantity. */
export function parseQuantity(text: string): number | null {
  if (text.length === 0 || text.length > 64) return null;
  const m = QUANTITY_RE.exec(text);
  if (!m) return null;
  const base = Number(m[1]);
  if (m[3] !== undefined) {
    const exp = Number(m[3]);
    if (Math.abs(exp) > 30) return null;
    return base * 10 ** exp;
  }
  return base * (SUFFIX[m[2] ?? ''] ?? 1);
}
