// Reads a new connection's first bytes until its protocol is known, or until the detection time is up.
import type net from 'node:net';
import { detectProtocol, type DetectedProtocol } from './protocol-detect.ts';

/** An undecided prefix this long is opaque: no method token, TLS record header or HTTP/2 preface is longer. */
const MAX_DETECT_BYTES = 64;

/**
 * Reads `socket` until its first bytes name a protocol (detectProtocol), then pauses it with every byte read put back and
 * calls `done` with the protocol. With no answer after `timeoutMs`, `done('timeout')` (the bytes read so far put back too):
 * the caller decides what a silent client is. A connection that closes first gets no call at all.
 *
 * At the deadline the decision waits for one more turn of the event loop (setImmediate runs after the loop has polled
 * its sockets). A process that was busy or descheduled past the deadline runs its expired timers before it reads what
 * arrived meanwhile, and a client whose first bytes were there in time must not be judged silent: on a loaded machine
 * that turned HTTP connections into opaque TCP (no routes, no HTTP metrics).
 */
export function detectConnection(socket: net.Socket, timeoutMs: number, done: (p: DetectedProtocol | 'timeout') => void): void {
  let buffered: Buffer = Buffer.alloc(0);
  let settled = false;
  const settle = (): boolean => {
    if (settled) return false;
    settled = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('close', onClose);
    return true;
  };
  const finish = (p: DetectedProtocol | 'timeout'): void => {
    if (!settle()) return;
    socket.pause();
    if (buffered.length > 0) socket.unshift(buffered);
    done(p);
  };
  const onData = (chunk: Buffer): void => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    const p = detectProtocol(buffered);
    if (p === 'need-more' && buffered.length < MAX_DETECT_BYTES) return;
    finish(p === 'need-more' ? 'opaque' : p);
  };
  const onClose = (): void => void settle();
  const timer = setTimeout(() => setImmediate(() => finish('timeout')), timeoutMs);
  socket.on('data', onData);
  socket.once('close', onClose);
  socket.resume(); // a socket accepted paused (pauseOnConnect) reads only once asked to
}
