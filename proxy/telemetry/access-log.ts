// Access logs: one JSON line per request on stdout, written in batches with a bounded buffer (a blocked stdout drops lines,
// counted, rather than holding memory or the request).
import type { ProxyRequest } from '../stack/proxy-request.ts';
import type { RequestOutcome } from '../stack/stack-hooks.ts';
import { headerString } from '../stack/request-target.ts';
import { grpcStatusLabel } from './proxy-metrics.ts';

/** Where lines go (process.stdout in the proxy; a fake in tests). `write` returning false means the writer is backed up. */
export interface LineWriter {
  write(chunk: string): boolean;
  once(event: 'drain', fn: () => void): unknown;
}

/** The trace a request belongs to, when tracing is on. */
export interface TraceIds {
  readonly traceId: string;
  readonly spanId: string;
}

const MAX_BUFFERED = 1024 * 1024;
const MAX_FIELD = 1024;

function cap(s: string): string {
  return s.length > MAX_FIELD ? s.slice(0, MAX_FIELD) : s;
}

/** The documented fields (docs/tracing-and-access-logs.md), in a fixed order. */
export function accessLogRecord(req: ProxyRequest, o: RequestOutcome, trace: TraceIds | null, now: number): Record<string, unknown> {
  const d = req.downstream;
  const ua = headerString(req.clientHeaders['user-agent']);
  const rid = headerString(req.clientHeaders['x-request-id']);
  return {
    timestamp: new Date(now).toISOString(),
    direction: d.direction,
    listener: d.listener,
    method: req.method,
    authority: cap(req.authority),
    path: cap(req.path),
    protocol: req.clientHeaders[':method'] !== undefined ? 'HTTP/2' : 'HTTP/1.1',
    code: o.code,
    grpc_status: o.grpcStatus >= 0 ? grpcStatusLabel(o.grpcStatus) : null,
    cause: o.cause,
    duration_ms: Math.round(o.seconds * 1e6) / 1000,
    request_bytes: o.requestBytes,
    response_bytes: o.responseBytes,
    route: req.route?.name ?? null,
    cluster: req.cluster?.name ?? null,
    upstream: req.endpoint?.state.key ?? null,
    attempts: req.attempt,
    client: d.clientAddress === '' ? null : `${d.clientAddress}:${d.clientPort}`,
    peer_identity: d.peerIdentity,
    mtls: d.tls && d.peerIdentity !== null,
    request_id: rid === undefined ? null : cap(rid),
    user_agent: ua === undefined ? null : cap(ua),
    trace_id: trace?.traceId ?? null,
    span_id: trace?.spanId ?? null,
  };
}

export class AccessLog {
  readonly #out: LineWriter;
  readonly #dropped: () => void;
  #pending: string[] = [];
  #pendingBytes = 0;
  #scheduled = false;
  #blocked = false;

  constructor(out: LineWriter, dropped: () => void) {
    this.#out = out;
    this.#dropped = dropped;
  }

  log(req: ProxyRequest, o: RequestOutcome, trace: TraceIds | null): void {
    const line = `${JSON.stringify(accessLogRecord(req, o, trace, Date.now()))}\n`;
    if (this.#pendingBytes + line.length > MAX_BUFFERED) {
      this.#dropped();
      return;
    }
    this.#pending.push(line);
    this.#pendingBytes += line.length;
    if (!this.#scheduled && !this.#blocked) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  // One write per turn of the event loop, whatever the request rate.
  readonly #flush = (): void => {
    this.#scheduled = false;
    if (this.#pending.length === 0) return;
    const chunk = this.#pending.join('');
    this.#pending = [];
    this.#pendingBytes = 0;
    try {
      if (!this.#out.write(chunk)) {
        this.#blocked = true;
        this.#out.once('drain', this.#drained);
      }
    } catch {
      this.#dropped();
    }
  };

  readonly #drained = (): void => {
    this.#blocked = false;
    this.#flush();
  };
}
