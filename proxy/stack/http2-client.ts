// The HTTP/2 client stage: one attempt as a stream on our own client connection (proxy/http2/client-connection.ts),
// resolved with the response head, its body and trailers streamed after.
import { ERRORS, ProxyError, classifyUpstreamError } from '../errors/proxy-error.ts';
import type { HeaderBag } from '../http/hop-headers.ts';
import type { BodySink } from '../http1/server-connection.ts';
import type { ClientStreamHandler, Http2ClientConnection, Http2ClientStream } from '../http2/client-connection.ts';
import type { Http2PoolWaiter } from '../upstream/http2-pool.ts';
import type { ProxyRequest } from './proxy-request.ts';
import { ProxyResponse, type ResponseBody } from './proxy-response.ts';
import { ATTEMPT_HEADER, attemptCountValue } from './attempt-count.ts';
import { UpstreamAttempt } from './upstream-attempt.ts';

/** Transparent re-sends of one attempt when the server did not process it (REFUSED_STREAM, above a GOAWAY's last id). */
const MAX_UNPROCESSED_RETRIES = 2;

/** Sends `req` to `req.endpoint` as an HTTP/2 stream. */
export function http2Client(req: ProxyRequest): Promise<ProxyResponse> {
  const x = new Http2Exchange(req);
  req.endpoint!.http2.acquire(x);
  return x.promise;
}

/**
 * One attempt to an HTTP/2 upstream: the pool's waiter, the stream's handler, the request body's sink and the response
 * body as methods of one object (no closures per request).
 */
class Http2Exchange extends UpstreamAttempt implements Http2PoolWaiter, ClientStreamHandler, BodySink, ResponseBody {
  #stream: Http2ClientStream | null = null;
  #gotResponse = false;
  #retries = 0;

  constructor(req: ProxyRequest) {
    super(req, req.endpoint!);
  }

  protected abortUpstream(): void {
    const s = this.#stream;
    if (s !== null) s.cancel();
    else this.endpoint.http2.cancel(this);
  }

  // Http2PoolWaiter: a connection with room for this stream.
  onConnection(conn: Http2ClientConnection): void {
    if (this.aborted) return;
    const req = this.req;
    const body = req.body;
    if (req.countsAttempts) req.headers[ATTEMPT_HEADER] = attemptCountValue(req.attempt);
    const te = req.grpc || req.headers.te !== undefined;
    const s = conn.request(req.method, req.authority, req.path, req.headers, te, body === null, this);
    if (s === null) return this.fail(new ProxyError(ERRORS.badRequest, 'a request field cannot be sent over HTTP/2'));
    this.#stream = s;
    if (body === null) return;
    // Bytes already held go out at once; the rest arrive through this BodySink.
    const first = body.open(this);
    if (first !== null) s.write(first);
    if (body.complete) s.end(body.trailers);
  }

  onConnectionError(e: Error): void {
    if (this.aborted) return;
    this.fail(classifyUpstreamError(e));
  }

  // ClientStreamHandler: the upstream's answer.
  onResponse(status: number, headers: HeaderBag, endStream: boolean): void {
    this.#gotResponse = true;
    this.headArrived();
    // Already end-to-end only, and ours to keep (client-connection.ts): no copy.
    if (endStream) {
      // Trailers-only (a gRPC error) or no body: on HTTP/2 downstream serve sends it as a single HEADERS frame.
      this.resolve(new ProxyResponse(status, headers, null));
      return;
    }
    this.resolve(new ProxyResponse(status, headers, this));
  }

  onData(chunk: Buffer): boolean {
    return this.deliver(chunk);
  }

  onEnd(trailers: HeaderBag | null): void {
    this.#stream = null;
    this.finish(trailers);
  }

  onError(e: Error, retryable: boolean): void {
    this.#stream = null;
    if (this.aborted) return;
    // Never processed by the server: safe to send again on another connection, if the body can be replayed.
    const body = this.req.body;
    if (retryable && !this.#gotResponse && this.#retries < MAX_UNPROCESSED_RETRIES && (body === null || body.replayable)) {
      this.#retries++;
      body?.detach();
      this.endpoint.http2.acquire(this);
      return;
    }
    this.fail(classifyUpstreamError(e));
  }

  onDrain(): void {
    this.req.body?.resume();
  }

  // ResponseBody: the sink drained.
  resume(): void {
    this.#stream?.resume();
  }

  // BodySink: the client's request body.
  data(chunk: Buffer): boolean {
    const s = this.#stream;
    return s === null ? true : s.write(chunk);
  }

  end(trailers?: HeaderBag | null): void {
    this.#stream?.end(trailers ?? null);
  }

  error(e: Error): void {
    if (this.aborted) return;
    this.abort();
    if (this.req.cancelled) return;
    this.fail(e instanceof ProxyError ? e : new ProxyError(ERRORS.badRequest, e.message));
  }
}
