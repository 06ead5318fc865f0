// Trace context propagation: reads W3C traceparent/tracestate, B3 single (`b3`) and B3 multi (`x-b3-*`) headers, and
// writes W3C and B3 (both forms), so apps that forward either format keep whole traces.
import type { HeaderBag } from '../http/hop-headers.ts';

/** A parent span as a request carries it. `sampled` null: the caller left the decision to us (B3 `b3: {id}-{id}` or no flag). */
export interface TraceParent {
  /** 32 lower-case hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lower-case hex digits, not all zero. */
  readonly spanId: string;
  readonly sampled: boolean | null;
  /** The W3C tracestate, passed on unchanged (null when absent or when the parent came from B3). */
  readonly traceState: string | null;
}

type Headers = Readonly<Record<string, string | string[] | undefined>>;

const TRACE_ID = /^[0-9a-f]{32}$/;
const TRACE_ID_64 = /^[0-9a-f]{16}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';
/** version 00: `00-<trace id>-<parent id>-<flags>`; a later version may append fields after another dash. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const MAX_TRACESTATE = 512;

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? (v.length === 1 ? v[0] : undefined) : v;
}

function traceId(id: string): string | null {
  const lower = id.toLowerCase();
  // B3 allows 64-bit trace ids: left-padded to 128 bits, as Zipkin and OpenTelemetry do.
  const full = TRACE_ID_64.test(lower) ? `0000000000000000${lower}` : lower;
  return TRACE_ID.test(full) && full !== ZERO_TRACE ? full : null;
}

function spanId(id: string): string | null {
  const lower = id.toLowerCase();
  return SPAN_ID.test(lower) && lower !== ZERO_SPAN ? lower : null;
}

/** W3C Trace Context level 1. Invalid values (wrong lengths, all-zero ids, version ff, upper case) are ignored as the spec says. */
export function readTraceparent(headers: Headers): TraceParent | null {
  const tp = one(headers.traceparent);
  if (tp === undefined) return null;
  const m = TRACEPARENT.exec(tp.trim());
  if (m === null) return null;
  const [, version, tid, sid, flags, rest] = m;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return null;
  if (tid === ZERO_TRACE || sid === ZERO_SPAN) return null;
  const state = headers.tracestate;
  const joined = Array.isArray(state) ? state.join(',') : state;
  return {
    traceId: tid!,
    spanId: sid!,
    sampled: (parseInt(flags!, 16) & 1) === 1,
    traceState: joined !== undefined && joined !== '' && joined.length <= MAX_TRACESTATE ? joined : null,
  };
}

function b3Sampled(s: string | undefined, debug: string | undefined): boolean | null {
  if (debug === '1' || s === 'd') return true;
  if (s === '1' || s === 'true') return true;
  if (s === '0' || s === 'false') return false;
  return null;
}

/** B3 single header: `{trace}-{span}[-{sampled}[-{parent}]]`, or a lone sampling decision (`0`, `1`, `d`) with no ids. */
export function readB3Single(headers: Headers): TraceParent | null {
  const b3 = one(headers.b3);
  if (b3 === undefined) return null;
  const parts = b3.trim().split('-');
  if (parts.length < 2 || parts.length > 4) return null;
  const t = traceId(parts[0]!);
  const s = spanId(parts[1]!);
  if (t === null || s === null) return null;
  const flag = parts[2];
  if (flag !== undefined && !['0', '1', 'd'].includes(flag)) return null;
  return { traceId: t, spanId: s, sampled: b3Sampled(flag, undefined), traceState: null };
}

/** B3 multi: `x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled`, `x-b3-flags` (debug). */
export function readB3Multi(headers: Headers): TraceParent | null {
  const tid = one(headers['x-b3-traceid']);
  const sid = one(headers['x-b3-spanid']);
  if (tid === undefined || sid === undefined) return null;
  const t = traceId(tid.trim());
  const s = spanId(sid.trim());
  if (t === null || s === null) return null;
  return { traceId: t, spanId: s, sampled: b3Sampled(one(headers['x-b3-sampled'])?.trim(), one(headers['x-b3-flags'])?.trim()), traceState: null };
}

/**
 * The parent a request carries: W3C first (the standard, and what carries tracestate), then B3 single, then B3 multi.
 * A lone B3 sampling decision with no ids (`b3: 0`) is honoured for the new trace: `{ sampled }` with null ids.
 */
export function extractTraceParent(headers: Headers): TraceParent | null {
  return readTraceparent(headers) ?? readB3Single(headers) ?? readB3Multi(headers);
}

/** A bare sampling decision without ids (`b3: 0|1|d`, or `x-b3-sampled` alone), or null. */
export function extractSamplingOnly(headers: Headers): boolean | null {
  const b3 = one(headers.b3)?.trim();
  if (b3 === '0') return false;
  if (b3 === '1' || b3 === 'd') return true;
  return b3Sampled(one(headers['x-b3-sampled'])?.trim(), one(headers['x-b3-flags'])?.trim());
}

/** The headers this module writes (and so replaces): W3C and both B3 forms. */
export const TRACE_HEADERS = ['traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags'] as const;

/** B3's ids and debug flag: dropped when the decision alone goes on. */
const B3_IDS = ['x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-flags'] as const;

/**
 * Deletes a header only when it is there: deleting a present key is what turns a header object into a slow dictionary
 * (ARCHITECTURE: header objects keep V8's fast properties), and most requests carry none of these.
 */
function drop(headers: HeaderBag, name: string): void {
  if (headers[name] !== undefined) delete headers[name];
}

/**
 * Writes the context for the next hop into `headers`: `spanId` is the span the next hop's span is a child of. Every
 * incoming trace header is replaced, so W3C and B3 never disagree downstream. tracestate is passed on when given.
 */
export function injectTraceContext(headers: HeaderBag, traceId: string, spanId: string, sampled: boolean, traceState: string | null, parentSpanId: string | null): void {
  const flag = sampled ? '1' : '0';
  headers.traceparent = `00-${traceId}-${spanId}-0${flag}`;
  if (traceState !== null) headers.tracestate = traceState;
  else drop(headers, 'tracestate');
  headers.b3 = `${traceId}-${spanId}-${flag}${parentSpanId !== null ? `-${parentSpanId}` : ''}`;
  headers['x-b3-traceid'] = traceId;
  headers['x-b3-spanid'] = spanId;
  if (parentSpanId !== null) headers['x-b3-parentspanid'] = parentSpanId;
  else drop(headers, 'x-b3-parentspanid');
  headers['x-b3-sampled'] = flag;
  drop(headers, 'x-b3-flags');
}

/**
 * Passes a "not sampled" decision on at the least cost, for a hop that records no span. `traceparent`: the one to write
 * (sampled flag off), or null to leave the caller's W3C context (traceparent and tracestate) as it came, since there is no
 * span of ours to be a parent. B3 gets the bare decision with no ids (`b3: 0`, `x-b3-sampled: 0`), which B3 allows for a
 * trace not sampled: both formats agree, and nothing is formatted but the one traceparent of a new trace.
 */
export function injectUnsampled(headers: HeaderBag, traceparent: string | null): void {
  if (traceparent !== null) {
    headers.traceparent = traceparent;
    drop(headers, 'tracestate');
  }
  headers.b3 = '0';
  headers['x-b3-sampled'] = '0';
  for (const h of B3_IDS) drop(headers, h);
}
