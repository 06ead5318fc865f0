// Strict HTTP/1.1 head parsing (RFC 9112): finds where a request or response head ends and parses it, rejecting anything ambiguous.
import type { HeaderBag } from '../http/hop-headers.ts';
import { latin1Slice } from './latin1.ts';

/** Why a head was refused: malformed (400 / 502) or over a configured limit (431). */
export const HEAD_BAD = 1;
export const HEAD_TOO_LARGE = 2;
export type HeadError = typeof HEAD_BAD | typeof HEAD_TOO_LARGE;

/** What both request and response heads carry once parsed; framing is already decided (RFC 9112 sec 6.3). */
export interface ParsedHead {
  readonly minor: number; // 0 or 1: HTTP/1.0 or HTTP/1.1
  readonly headers: HeaderBag; // lower-case names, null prototype; repeated fields joined (set-cookie: array)
  readonly rawHeaders: string[]; // name, value, name, value... as received
  /** -1 when absent. */
  readonly contentLength: number;
  readonly chunked: boolean;
  /** Connection: close, or HTTP/1.0 without Connection: keep-alive. */
  readonly close: boolean;
  /** Connection lists "upgrade" and an Upgrade header is present. */
  readonly upgrade: boolean;
}

export interface RequestHead extends ParsedHead {
  readonly method: string;
  readonly target: string;
}

export interface ResponseHead extends ParsedHead {
  readonly status: number;
}

const CRLF2 = Buffer.from('\r\n\r\n', 'latin1');

// tchar (RFC 9110 sec 5.6.2) as a lookup table over latin1 codes.
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

export function isTchar(c: number): boolean {
  return TCHAR[c] === 1;
}

/**
 * Where the head starting at `start` ends (the index just past its blank line), -1 if it is not complete yet, or
 * -HEAD_BAD / -HEAD_TOO_LARGE - 1 (i.e. -2 / -3) when it can already be refused: a bare LF (no CR before it) is refused
 * at once rather than waited on, and so is a head that has outgrown `maxBytes`.
 */
export function findHeadEnd(buf: Buffer, start: number, maxBytes: number, scanned = 0): number {
  // `scanned`: bytes from `start` already searched by an earlier call, so a head arriving in many reads costs O(n).
  const end = buf.indexOf(CRLF2, Math.max(start, start + scanned - 3));
  if (end >= 0) return end + 4 - start > maxBytes ? -1 - HEAD_TOO_LARGE : end + 4;
  for (let lf = buf.indexOf(10, start + scanned); lf >= 0; lf = buf.indexOf(10, lf + 1)) {
    if (lf === start || buf[lf - 1] !== 13) return -1 - HEAD_BAD;
  }
  return buf.length - start > maxBytes ? -1 - HEAD_TOO_LARGE : -1;
}

/** Number of CRLFs at `start` (RFC 9112 sec 2.2: a server SHOULD ignore empty lines before a request line). */
export function leadingEmptyLines(buf: Buffer, start: number): number {
  let n = 0;
  while (start + 2 * n + 1 < buf.length && buf[start + 2 * n] === 13 && buf[start + 2 * n + 1] === 10) n++;
  return n;
}

class FieldState {
  headers: HeaderBag = Object.create(null) as HeaderBag;
  rawHeaders: string[] = [];
  contentLength = -1;
  clSeen = false;
  teSeen = false;
  chunked = false;
  connClose = false;
  connKeepAlive = false;
  connUpgrade = false;
  upgradeHeader = false;
}

/** RFC 9112 sec 6.3: Content-Length is 1*DIGIT; a list, a sign or hex is refused; more than 15 digits too. */
function parseContentLength(v: string): number {
  if (v.length === 0 || v.length > 15) return -1;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
  }
  return Number(v);
}

function connectionTokens(st: FieldState, v: string): void {
  for (const part of v.split(',')) {
    const t = part.trim().toLowerCase();
    if (t === 'close') st.connClose = true;
    else if (t === 'keep-alive') st.connKeepAlive = true;
    else if (t === 'upgrade') st.connUpgrade = true;
  }
}

/**
 * Parses the field lines in s[pos, s.length) (each ended by CRLF except the last). Returns false on any malformed line:
 * obs-fold, whitespace before the colon, a non-token name, a control character (CR, LF, NUL, VT...) in a value,
 * a second Content-Length or Transfer-Encoding, or a transfer-coding other than exactly "chunked".
 */
function parseFields(s: string, pos: number, maxCount: number, st: FieldState): boolean | typeof HEAD_TOO_LARGE {
  const headers = st.headers;
  const raw = st.rawHeaders;
  let count = 0;
  while (pos < s.length) {
    let end = s.indexOf('\r\n', pos);
    if (end < 0) end = s.length;
    let j = pos;
    while (j < end && TCHAR[s.charCodeAt(j)] === 1) j++;
    if (j === pos || j === end || s.charCodeAt(j) !== 58 /* ':' */) return false;
    if (++count > maxCount) return HEAD_TOO_LARGE;
    const rawName = s.slice(pos, j);
    j++;
    let c = s.charCodeAt(j);
    while (j < end && (c === 32 || c === 9)) c = s.charCodeAt(++j);
    let vEnd = end;
    c = s.charCodeAt(vEnd - 1);
    while (vEnd > j && (c === 32 || c === 9)) c = s.charCodeAt(--vEnd - 1);
    for (let k = j; k < vEnd; k++) {
      c = s.charCodeAt(k);
      if ((c < 32 && c !== 9) || c === 127) return false;
    }
    const value = s.slice(j, vEnd);
    const name = rawName.toLowerCase();
    raw.push(rawName, value);
    switch (name) {
      case 'content-length': {
        if (st.clSeen) return false;
        st.clSeen = true;
        st.contentLength = parseContentLength(value);
        if (st.contentLength < 0) return false;
        break;
      }
      case 'transfer-encoding': {
        // Exactly one field saying exactly "chunked": anything else (lists, gzip, identity, repeats) is refused,
        // since framing is regenerated and any other coding would be lost or mis-framed.
        if (st.teSeen || value.toLowerCase() !== 'chunked') return false;
        st.teSeen = true;
        st.chunked = true;
        break;
      }
      case 'connection':
        connectionTokens(st, value);
        break;
      case 'upgrade':
        st.upgradeHeader = true;
        break;
    }
    const prev = headers[name];
    if (name === 'set-cookie') {
      if (prev === undefined) headers[name] = [value];
      else (prev as string[]).push(value);
    } else if (prev === undefined) headers[name] = value;
    else headers[name] = `${prev as string}${name === 'cookie' ? '; ' : ', '}${value}`;
    pos = end + 2;
  }
  if (st.teSeen && st.clSeen) return false; // RFC 9112 sec 6.3 item 3: possible smuggling; refuse rather than guess
  return true;
}

function versionMinor(s: string, at: number): number {
  // Exactly "HTTP/1.1" or "HTTP/1.0": HTTP/1.2, HTTP/2.0 and friends are not this parser's business.
  if (s.charCodeAt(at + 5) !== 49 || s.charCodeAt(at + 6) !== 46 || !s.startsWith('HTTP/', at)) return -1;
  const m = s.charCodeAt(at + 7);
  return m === 49 ? 1 : m === 48 ? 0 : -1;
}

/** Parses a request head in buf[start, end) (end from findHeadEnd). */
export function parseRequestHead(buf: Buffer, start: number, end: number, maxCount: number): RequestHead | HeadError {
  const s = latin1Slice(buf, start, end - 4);
  let lineEnd = s.indexOf('\r\n');
  if (lineEnd < 0) lineEnd = s.length;
  let i = 0;
  while (i < lineEnd && TCHAR[s.charCodeAt(i)] === 1) i++;
  if (i === 0 || s.charCodeAt(i) !== 32) return HEAD_BAD;
  const method = s.slice(0, i);
  const tStart = ++i;
  // request-target: visible ASCII only (no controls, no spaces, no raw 8-bit bytes).
  for (let c = s.charCodeAt(i); i < lineEnd && c > 32 && c < 127; c = s.charCodeAt(++i));
  if (i === tStart || s.charCodeAt(i) !== 32 || i + 9 !== lineEnd) return HEAD_BAD;
  const target = s.slice(tStart, i);
  const minor = versionMinor(s, i + 1);
  if (minor < 0) return HEAD_BAD;
  const st = new FieldState();
  const ok = parseFields(s, lineEnd + 2, maxCount, st);
  if (ok !== true) return ok === false ? HEAD_BAD : HEAD_TOO_LARGE;
  if (st.chunked && minor === 0) return HEAD_BAD; // RFC 9112 sec 6.1: chunked is not defined for HTTP/1.0
  return {
    method,
    target,
    minor,
    headers: st.headers,
    rawHeaders: st.rawHeaders,
    contentLength: st.contentLength,
    chunked: st.chunked,
    close: st.connClose || (minor === 0 && !st.connKeepAlive),
    upgrade: st.connUpgrade && st.upgradeHeader,
  };
}

/** Parses a response head in buf[start, end). */
export function parseResponseHead(buf: Buffer, start: number, end: number, maxCount: number): ResponseHead | HeadError {
  const s = latin1Slice(buf, start, end - 4);
  let lineEnd = s.indexOf('\r\n');
  if (lineEnd < 0) lineEnd = s.length;
  const minor = versionMinor(s, 0);
  if (minor < 0 || s.charCodeAt(8) !== 32) return HEAD_BAD;
  const d0 = s.charCodeAt(9) - 48;
  const d1 = s.charCodeAt(10) - 48;
  const d2 = s.charCodeAt(11) - 48;
  if (!(d0 >= 1 && d0 <= 5 && d1 >= 0 && d1 <= 9 && d2 >= 0 && d2 <= 9)) return HEAD_BAD;
  if (lineEnd > 12) {
    if (s.charCodeAt(12) !== 32) return HEAD_BAD;
    for (let k = 13; k < lineEnd; k++) {
      const c = s.charCodeAt(k);
      if ((c < 32 && c !== 9) || c === 127) return HEAD_BAD;
    }
  }
  const st = new FieldState();
  const ok = parseFields(s, lineEnd + 2, maxCount, st);
  if (ok !== true) return ok === false ? HEAD_BAD : HEAD_TOO_LARGE;
  if (st.chunked && minor === 0) return HEAD_BAD;
  return {
    status: d0 * 100 + d1 * 10 + d2,
    minor,
    headers: st.headers,
    rawHeaders: st.rawHeaders,
    contentLength: st.contentLength,
    chunked: st.chunked,
    close: st.connClose || (minor === 0 && !st.connKeepAlive),
    upgrade: st.connUpgrade && st.upgradeHeader,
  };
}
