// Lets the retry layer see the grpc-status of an answer that carries it in trailers after an empty body (grpc-js does so):
// holds the body until its first byte or its end, then hands out what it held.
import type { ProxyError } from '../errors/proxy-error.ts';
import type { HeaderBag } from '../http/hop-headers.ts';
import { ProxyResponse, type ResponseBody, type ResponseSink } from '../stack/proxy-response.ts';

/** What the body did first: a first chunk (a real answer), or ended with trailers, or failed. */
type First = { kind: 'data' } | { kind: 'end'; trailers: HeaderBag | null } | { kind: 'error'; error: ProxyError };

class PeekedBody implements ResponseBody, ResponseSink {
  readonly #inner: ResponseBody;
  readonly first: Promise<First>;
  #settle!: (f: First) => void;
  #sink: ResponseSink | null = null;
  #held: Buffer[] = [];
  #ended: { trailers: HeaderBag | null } | null = null;
  #error: ProxyError | null = null;
  #resumeWanted = false;

  constructor(inner: ResponseBody) {
    this.#inner = inner;
    this.first = new Promise((resolve) => (this.#settle = resolve));
    inner.start(this);
  }

  // From the upstream.
  data(chunk: Buffer): boolean {
    if (this.#sink !== null) return this.#sink.data(chunk);
    this.#held.push(chunk);
    this.#settle({ kind: 'data' });
    this.#resumeWanted = true;
    return false;
  }
  end(trailers: HeaderBag | null): void {
    if (this.#sink !== null) return this.#sink.end(trailers);
    this.#ended = { trailers };
    this.#settle({ kind: 'end', trailers });
  }
  error(e: ProxyError): void {
    if (this.#sink !== null) return this.#sink.error(e);
    this.#error = e;
    this.#settle({ kind: 'error', error: e });
  }

  // To the downstream.
  start(sink: ResponseSink): void {
    this.#sink = sink;
    let more = true;
    for (const c of this.#held) more = sink.data(c) && more;
    this.#held = [];
    if (this.#ended !== null) return sink.end(this.#ended.trailers);
    if (this.#error !== null) return sink.error(this.#error);
    if (more && this.#resumeWanted) this.#inner.resume();
  }
  resume(): void {
    this.#inner.resume();
  }
  cancel(): void {
    this.#inner.cancel();
  }
}

/**
 * For a gRPC answer without grpc-status in its headers: waits for the body's first event. Returns the response to use
 * (same status and headers, the held body) and the grpc-status its trailers carry when the body ended empty.
 */
export async function peekGrpcStatus(res: ProxyResponse): Promise<{ res: ProxyResponse; grpcStatus: string | undefined }> {
  const body = new PeekedBody(res.body!);
  const first = await body.first;
  const out = new ProxyResponse(res.status, res.headers, body, res.trailers);
  const s = first.kind === 'end' ? first.trailers?.['grpc-status'] : undefined;
  return { res: out, grpcStatus: typeof s === 'string' ? s : undefined };
}
