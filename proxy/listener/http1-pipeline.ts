// Serves pipelined HTTP/1.1 requests one at a time per connection, so one connection cannot fan out into thousands of upstream requests.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Node parses a whole read of pipelined requests at once and emits every one of them, while their responses can only
 * go out in order: without this, 5000 requests in one packet become 5000 concurrent upstream requests whose responses
 * are buffered in memory for a client that may never read them.
 */
interface Pipeline {
  busy: boolean;
  readonly waiting: (() => void)[];
}

const pipelines = new WeakMap<Socket, Pipeline>();

/**
 * Runs `serve` now if nothing else on this connection is being answered, otherwise once the responses before it are
 * done. Returns false when more than `maxWaiting` requests already wait: the caller closes the connection.
 */
export function servePipelined(req: IncomingMessage, res: ServerResponse, maxWaiting: number, serve: () => void): boolean {
  const socket = req.socket;
  let pipeline = pipelines.get(socket);
  if (pipeline === undefined) {
    pipeline = { busy: false, waiting: [] };
    pipelines.set(socket, pipeline);
  }
  const p = pipeline;
  const run = (): void => {
    if (socket.destroyed) {
      p.waiting.length = 0;
      return;
    }
    p.busy = true;
    res.once('close', () => {
      p.busy = false;
      // An answer that closes the connection (a request refused for its framing, draining) ends the pipeline: what the
      // parser read behind it must not be served, since its framing is exactly what was not trusted.
      // (Node ends the socket before 'close' when the response said `connection: close`.)
      if (!res.shouldKeepAlive || socket.destroyed || socket.writableEnded) {
        p.waiting.length = 0;
        return;
      }
      p.waiting.shift()?.();
    });
    serve();
  };
  if (!p.busy) {
    run();
    return true;
  }
  if (p.waiting.length >= maxWaiting) return false;
  p.waiting.push(run);
  return true;
}
