// The small HTTP client of the edge policies (a JWKS fetch, an external authorization call): bounded in time and size.
//
// Node's own fetch (its bundled undici, loaded on first use), so a proxy without these policies loads nothing for them.
// Not the data path: one call per authorization decision or key refresh, never per proxied byte.

export interface EdgeHttpRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Aborts the call (the caller's timeout). */
  readonly signal: AbortSignal;
  /** A larger answer fails the call. */
  readonly maxBytes: number;
}

export interface EdgeHttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** Makes one call; rejects on a network error, an abort, or an answer over maxBytes. */
export type EdgeHttpCall = (req: EdgeHttpRequest) => Promise<EdgeHttpAnswer>;

export class AnswerTooLarge extends Error {
  constructor(max: number) {
    super(`answer larger than ${max} bytes`);
    this.name = 'AnswerTooLarge';
  }
}

export const edgeHttpCall: EdgeHttpCall = async (req) => {
  const res = await fetch(req.url, { method: req.method, headers: req.headers, signal: req.signal, redirect: 'manual' });
  const declared = Number(res.headers.get('content-length') ?? -1);
  if (declared > req.maxBytes) {
    await res.body?.cancel();
    throw new AnswerTooLarge(req.maxBytes);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  if (res.body !== null) {
    for await (const chunk of res.body) {
      total += (chunk as Uint8Array).byteLength;
      if (total > req.maxBytes) {
        await res.body.cancel().catch(() => {});
        throw new AnswerTooLarge(req.maxBytes);
      }
      chunks.push(Buffer.from(chunk as Uint8Array));
    }
  }
  const headers: Record<string, string> = Object.create(null);
  res.headers.forEach((v, k) => {
    headers[k] = v;
  });
  return { status: res.status, headers, body: Buffer.concat(chunks) };
};
