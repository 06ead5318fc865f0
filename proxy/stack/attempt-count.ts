// The request header that tells the upstream which try it is seeing (as Envoy's x-envoy-attempt-count): the retry layer
// asks for it (ProxyRequest.countsAttempts) and each client stage writes it from `req.attempt` as it sends the request.

export const ATTEMPT_HEADER = 'x-skein-attempt-count';

const VALUES = Array.from({ length: 12 }, (_, i) => String(i));
// The HTTP/1.1 client appends this line to the head as is: a constant needs no per-character check of the head writer
// (that check and the header set in each request's bag were ~1 700 of the ~6 500 instructions the policy defaults add
// to a request, bench/instructions.ts --proto h1 --policy-defaults).
const LINES = VALUES.map((v) => `${ATTEMPT_HEADER}: ${v}\r\n`);

/** The header's value for try `n` (1 for the first). */
export function attemptCountValue(n: number): string {
  return VALUES[n] ?? String(n);
}

/** The header's HTTP/1.1 field line for try `n`. */
export function attemptCountLine(n: number): string {
  return LINES[n] ?? `${ATTEMPT_HEADER}: ${n}\r\n`;
}
