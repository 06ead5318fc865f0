// Our receive-side flow-control policy (RFC 9113 6.9): what the peer may still send, and WINDOW_UPDATE as the app consumes.
import { MAX_WINDOW } from './h2-codes.ts';

/**
 * One receive window (a stream's or the connection's). The peer may send `available` more bytes; bytes the application
 * has consumed are returned to the peer in one WINDOW_UPDATE once they reach half the window (fewer, larger updates;
 * a stream whose reader pushes back gets none, so at most `size` bytes of it are ever held).
 */
export class RecvWindow {
  /** Bytes the peer may still send before it overruns the window. */
  available: number;
  readonly size: number;
  #unacked = 0;

  /** `initial`: the window the peer believes in now (65 535 for a connection until our first WINDOW_UPDATE). */
  constructor(size: number, initial = size) {
    this.size = Math.min(size, MAX_WINDOW);
    this.available = initial;
  }

  /** The peer sent `n` flow-controlled bytes (DATA payload with padding). False: it overran the window (FLOW_CONTROL_ERROR). */
  receive(n: number): boolean {
    this.available -= n;
    return this.available >= 0;
  }

  /** `n` received bytes were consumed. Returns the WINDOW_UPDATE increment to send now, or 0. */
  consume(n: number): number {
    this.#unacked += n;
    const target = this.size - this.available;
    // Refill once half the window is used up, and never beyond the window we advertised.
    if (this.#unacked < this.size >>> 1 && this.available > this.size >>> 1) return 0;
    const inc = Math.min(this.#unacked, target);
    this.#unacked = 0;
    if (inc <= 0) return 0;
    this.available += inc;
    return inc;
  }
}

/** Adds a WINDOW_UPDATE increment to a send window; null when it would pass 2^31-1 (FLOW_CONTROL_ERROR). */
export function grow(window: number, increment: number): number | null {
  const w = window + increment;
  return w > MAX_WINDOW ? null : w;
}
