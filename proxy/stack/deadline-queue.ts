// One timer for the deadlines of every upstream attempt in flight: an indexed min-heap by deadline and one Node timer armed
// at the earliest. A timer per attempt (setTimeout + clearTimeout, ~0.4 µs) was the largest per-request cost of a route
// with a timeout; adding to and removing from a heap of the attempts in flight costs a fraction of that.

/** What the queue holds: a deadline (performance.now() milliseconds), its place in the heap, and what to do when it passes. */
export interface Deadlined {
  deadlineAt: number;
  /** -1 when not in a queue. */
  heapIndex: number;
  timedOut(): void;
}

export class DeadlineQueue {
  readonly #heap: Deadlined[] = [];
  readonly #now: () => number;
  #timer: NodeJS.Timeout | null = null;
  #armedAt = Infinity;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  get size(): number {
    return this.#heap.length;
  }

  add(e: Deadlined): void {
    const h = this.#heap;
    e.heapIndex = h.length;
    h.push(e);
    this.#up(e.heapIndex);
    // Only a deadline earlier than the armed one moves the timer; a later one waits its turn.
    if (e.deadlineAt < this.#armedAt) this.#arm(e.deadlineAt);
  }

  /** Removes `e` (its attempt ended first). The timer stays armed: when it fires it re-arms for whatever is first then. */
  remove(e: Deadlined): void {
    const i = e.heapIndex;
    if (i < 0) return;
    e.heapIndex = -1;
    const h = this.#heap;
    const last = h.pop()!;
    if (last === e) return;
    h[i] = last;
    last.heapIndex = i;
    this.#down(i);
    this.#up(last.heapIndex);
  }

  #arm(at: number): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#armedAt = at;
    // Never earlier than the deadline; unref: an attempt in flight keeps the process alive through its socket, not this.
    this.#timer = setTimeout(this.#fire, Math.max(1, Math.ceil(at - this.#now())));
    this.#timer.unref();
  }

  readonly #fire = (): void => {
    this.#timer = null;
    this.#armedAt = Infinity;
    const h = this.#heap;
    const now = this.#now();
    while (h.length > 0 && h[0]!.deadlineAt <= now) {
      const e = h[0]!;
      this.remove(e);
      e.timedOut();
    }
    // An entry that re-queued itself from timedOut (a stream idle check) armed the timer for its own time, which may be
    // later than what is first now.
    if (h.length > 0 && h[0]!.deadlineAt < this.#armedAt) this.#arm(h[0]!.deadlineAt);
  };

  #up(i: number): void {
    const h = this.#heap;
    const e = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      if (parent.deadlineAt <= e.deadlineAt) break;
      h[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    h[i] = e;
    e.heapIndex = i;
  }

  #down(i: number): void {
    const h = this.#heap;
    const n = h.length;
    const e = h[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && h[c + 1]!.deadlineAt < h[c]!.deadlineAt) c++;
      const child = h[c]!;
      if (e.deadlineAt <= child.deadlineAt) break;
      h[i] = child;
      child.heapIndex = i;
      i = c;
    }
    h[i] = e;
    e.heapIndex = i;
  }
}
