// Where one upstream socket's reads land: fresh regions of a slab of its own (net/tls `onread`), not a buffer and a 'data' event per read.

/**
 * Bytes of one slab; a new slab is taken when less than MIN_REGION of it is left. Each connection holds one while open
 * (upstream HTTP/2 connections are few: one per endpoint, closed when idle), so it is kept small; a room smaller than a
 * TLS record (16 KiB) only splits the record into more reads.
 */
const SLAB_BYTES = 16 * 1024;
const MIN_REGION = 4 * 1024;

/**
 * Node reads each time into the region `buffer()` gave it last; what a read filled is never offered again, so every
 * chunk handed to `target` stays valid as long as it is referenced (frame payloads are views of it, kept in body queues),
 * as with Node's own buffer per read. What this saves per read: the read's ArrayBuffer (a 64 KiB allocation shrunk to
 * the bytes read, freed by the GC later) and the Readable's push and 'data' event. Pass it as `onread` when connecting.
 */
export class ReadRegions {
  /** Receives each read (a view of the slab); set before the socket can read. */
  target: ((chunk: Buffer) => void) | null = null;
  #slab: Buffer | null = null;
  #used = 0;

  /** The next read's room (Node calls this once at the start and after every read). */
  readonly buffer = (): Buffer => {
    let slab = this.#slab;
    if (slab === null || SLAB_BYTES - this.#used < MIN_REGION) {
      slab = this.#slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.#used = 0;
    }
    return slab.subarray(this.#used);
  };

  /** `n` bytes were read into `region` (the last room offered). */
  readonly callback = (n: number, region: Uint8Array): boolean => {
    this.#used += n;
    this.target?.((region as Buffer).subarray(0, n));
    // Never paused here: the HTTP/2 connection applies its own flow control.
    return true;
  };
}
