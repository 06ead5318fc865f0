// The response value that travels up the stack: status, headers, a pausable streaming body that has not started, trailers.
import type { ProxyError } from '../errors/proxy-error.ts';
import type { HeaderBag } from '../http/hop-headers.ts';

/** Where a response body goes (serve's writer, or a policy layer inspecting it). `data` returning false pauses the body. */
export interface ResponseSink {
  data(chunk: Buffer): boolean;
  /** The body is complete; `trailers` are end-to-end trailers (gRPC status), or null. */
  end(trailers: HeaderBag | null): void;
  /** The body cannot be completed (upstream reset, idle timeout): never to be presented as a complete response. */
  error(e: ProxyError): void;
}

/**
 * A streaming body from the upstream. Nothing flows until `start`; a layer that drops a response (a retry on 503) must
 * `cancel()` it so that the upstream connection is released or closed.
 */
export interface ResponseBody {
  start(sink: ResponseSink): void;
  /** The sink drained after `data` returned false. */
  resume(): void;
  cancel(): void;
}

export class ProxyResponse {
  status: number;
  /** End-to-end response headers; the serve stage applies framing for the client's protocol. */
  readonly headers: HeaderBag;
  /** null: no body (HEAD, 204, 304, a trailers-only gRPC answer). */
  readonly body: ResponseBody | null;
  /** Trailers of a bodiless response (gRPC trailers-only), or null; a streaming body delivers its own through `end`. */
  readonly trailers: HeaderBag | null;

  constructor(status: number, headers: HeaderBag, body: ResponseBody | null, trailers: HeaderBag | null = null) {
    this.status = status;
    this.headers = headers;
    this.body = body;
    this.trailers = trailers;
  }
}
