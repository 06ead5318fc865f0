// The sending half of flow control, either role: a stream's waiting bytes leave as DATA frames as far as the windows allow.
import type { FrameOutput } from './frame-output.ts';

/** What a stream has waiting to send (a server's response body, a client's request body). */
export interface SendingStream {
  readonly id: number;
  /** The peer's window for this stream (may go negative after a SETTINGS change). */
  sendWindow: number;
  pending: Buffer[];
  pendingBytes: number;
}

/**
 * Queues as many DATA frames of `s.pending` as the stream window, `connWindow` and `maxFrame` allow; payloads are the
 * pending buffers themselves (sliced, never copied). The frame that empties `pending` carries END_STREAM when
 * `endWhenEmpty`. Returns the bytes sent, which the caller takes off its connection window.
 */
export function sendData(s: SendingStream, connWindow: number, maxFrame: number, endWhenEmpty: boolean, out: FrameOutput): number {
  const pending = s.pending;
  let sent = 0;
  while (s.pendingBytes > 0) {
    const room = Math.min(s.sendWindow, connWindow - sent, maxFrame);
    if (room <= 0) break;
    const first = pending[0]!;
    const n = Math.min(room, first.length);
    if (n === first.length) pending.shift();
    else pending[0] = first.subarray(n);
    s.pendingBytes -= n;
    s.sendWindow -= n;
    sent += n;
    out.dataHeader(s.id, n, endWhenEmpty && s.pendingBytes === 0);
    out.queue(n === first.length ? first : first.subarray(0, n));
  }
  return sent;
}
