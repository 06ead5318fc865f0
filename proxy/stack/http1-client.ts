// The HTTP/1.1 client stage: one attempt over a pooled raw connection, resolved with the response head, its body streamed after.
import { ERRORS, ProxyError, classifyUpstreamError } from '../errors/proxy-error.ts';
import { copyEndToEndHeaders, type HeaderBag } from '../http/hop-headers.ts';
import type { ExchangeHandler, Http1ClientConnection } from '../http1/client-connection.ts';
import type { ResponseHead } from '../http1/head-parser.ts';
import { fieldLines } from '../http1/head-writer.ts';
import type { BodySink } from '../http1/server-connection.ts';
import type { EndpointHandle } from '../upstream/upstream-cluster.ts';
import type { ProxyRequest } from './proxy-request.ts';
import { ProxyResponse, type ResponseBody } from './proxy-response.ts';
import { attemptCountLine } from './attempt-count.ts';
import { UpstreamAttempt } from './upstream-attempt.ts';

/** Sends `req` to `req.endpoint` over HTTP/1.1; framing is always regenerated (Content-Length when known, else chunked). */
export function http1Client(req: ProxyRequest): Promise<ProxyResponse> {
  const headers = req.headers;
  headers.host = req.authority;
  delete headers.te;
  const body = req.body;
  const hasBody = body !== null;
  const chunked = hasBody && headers['content-length'] === undefined;
  const attemptLine = req.countsAttempts ? attemptCountLine(req.attempt) : '';
  const head = `${req.method} ${req.path} HTTP/1.1\r\n${fieldLines(headers)}${attemptLine}${chunked ? 'transfer-encoding: chunked\r\n' : ''}\r\n`;
  const x = new Http1Exchange(req, req.endpoint!, head, chunked);
  x.attempt();
  return x.promise;
}

/**
 * One attempt to an HTTP/1.1 upstream: the connection's callbacks, the request body's sink and the response body as
 * methods of one object (no closures per request).
 */
class Http1Exchange extends UpstreamAttempt implements ExchangeHandler, BodySink, ResponseBody {
  readonly #head: string;
  readonly #chunked: boolean;
  #conn: Http1ClientConnection | null = null;
  #gotResponse = false;
  #retried = false;

  constructor(req: ProxyRequest, endpoint: EndpointHandle, head: string, chunked: boolean) {
    super(req, endpoint);
    this.#head = head;
    this.#chunked = chunked;
  }

  attempt(): void {
    this.endpoint.http1.acquire(this.#start);
  }

  readonly #start = (c: Http1ClientConnection): void => {
    if (this.aborted) return this.endpoint.http1.release(c);
    this.#conn = c;
    const req = this.req;
    const headOnly = req.method === 'HEAD';
    const body = req.body;
    if (body === null) return c.send(this, this.#head, false, null, true, headOnly);
    // Bytes already held go out with the head; the rest arrive through this BodySink.
    const first = body.open(this);
    c.send(this, this.#head, this.#chunked, first, body.complete, headOnly);
  };

  protected abortUpstream(): void {
    this.#conn?.abort();
  }

  // ExchangeHandler: the upstream's answer.
  onResponse(rh: ResponseHead): void {
    this.#gotResponse = true;
    this.headArrived();
    this.resolve(new ProxyResponse(rh.status, copyEndToEndHeaders(rh.headers, null), this));
  }

  onData(chunk: Buffer): boolean {
    return this.deliver(chunk);
  }

  onEnd(trailers: HeaderBag | null): void {
    this.finish(trailers === null ? null : copyEndToEndHeaders(trailers, null));
  }

  onError(e: Error, retryable: boolean): void {
    if (this.aborted) return;
    // A kept-alive connection the upstream closed while we reused it: safe to send once more if nothing was streamed.
    if (retryable && !this.#gotResponse && !this.#retried && this.req.body === null) {
      this.#retried = true;
      return this.attempt();
    }
    this.fail(classifyUpstreamError(e));
  }

  onDrain(): void {
    this.req.body?.resume();
  }

  // ResponseBody: the sink drained.
  resume(): void {
    this.#conn?.resume();
  }

  // BodySink: the request body.
  data(chunk: Buffer): boolean {
    return this.#conn!.write(chunk);
  }

  end(): void {
    this.#conn!.end();
  }

  error(e: Error): void {
    if (this.aborted) return;
    this.abort();
    if (this.req.cancelled) return;
    // A framing error in the client's body: 400 if nothing was sent yet (the rescue decides).
    this.fail(e instanceof ProxyError ? e : new ProxyError(ERRORS.badRequest, e.message));
  }
}
