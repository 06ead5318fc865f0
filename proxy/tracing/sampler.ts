// The sampling decision of one request: an incoming decision is honoured; a new trace is sampled at the route's rate,
// else the mesh default (percent, 0-100).

/** `parent` is the incoming sampled flag (null: none given). `random` returns [0, 1). */
export function shouldSample(parent: boolean | null, percent: number, random: () => number): boolean {
  if (parent !== null) return parent;
  if (percent <= 0) return false;
  if (percent >= 100) return true;
  return random() * 100 < percent;
}
