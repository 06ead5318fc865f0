// One connection's outgoing frames, either role: queued during a turn of the event loop and written in one socket write.
import type { Socket } from 'node:net';

/** Output up to this size is joined into one socket write. */
const JOIN_LIMIT = 64 * 1024;

export class FrameOutput {
  readonly #socket: Socket;
  readonly #afterFlush: () => void;
  #out: Buffer[] = [];
  #bytes = 0;
  #scheduled = false;

  /** `afterFlush` runs after each socket write (the connection wakes writers that waited on it). */
  constructor(socket: Socket, afterFlush: () => void) {
    this.#socket = socket;
    this.#afterFlush = afterFlush;
  }

  /** Bytes queued here and not yet handed to the socket, plus what the socket holds unsent. */
  get unsent(): number {
    return this.#bytes + this.#socket.writableLength;
  }

  queue(buf: Buffer): void {
    this.#out.push(buf);
    this.#bytes += buf.length;
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#task);
    }
  }

  /** Drops what is queued (the socket is gone). */
  clear(): void {
    this.#out = [];
    this.#bytes = 0;
  }

  readonly #task = (): void => {
    this.flush();
  };

  flush(): void {
    this.#scheduled = false;
    const out = this.#out;
    if (out.length === 0) return;
    const socket = this.#socket;
    const bytes = this.#bytes;
    this.#out = [];
    this.#bytes = 0;
    if (socket.destroyed || !socket.writable) return;
    if (out.length === 1) socket.write(out[0]!);
    else if (bytes <= JOIN_LIMIT) socket.write(Buffer.concat(out, bytes));
    else {
      socket.cork();
      for (const b of out) socket.write(b);
      socket.uncork();
    }
    this.#afterFlush();
  }
}
