// Who the client is at the edge: the connection's peer, or an x-forwarded-for entry written by a trusted proxy in front.
import { isIP } from 'node:net';

/** `::ffff:1.2.3.4` -> `1.2.3.4`; IPv6 lower case; anything that is not an address -> ''. */
export function canonicalAddress(s: string): string {
  let a = s.trim();
  if (a.charCodeAt(0) === 91 /* '[' */) {
    const end = a.indexOf(']');
    a = end < 0 ? '' : a.slice(1, end); // [v6]:port
  } else if (a.indexOf(':') > 0 && a.indexOf(':') === a.lastIndexOf(':') && a.includes('.')) {
    a = a.slice(0, a.indexOf(':')); // v4:port
  }
  const family = isIP(a);
  if (family === 4) return a;
  if (family === 6) {
    const lower = a.toLowerCase();
    return lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4 ? lower.slice(7) : lower;
  }
  return '';
}

/** The entries of x-forwarded-for (repeated headers joined), trimmed, in order (client first). */
export function forwardedEntries(xff: string | readonly string[] | undefined): string[] {
  if (xff === undefined) return [];
  const joined = typeof xff === 'string' ? xff : xff.join(',');
  const out: string[] = [];
  for (const part of joined.split(',')) {
    const t = part.trim();
    if (t !== '') out.push(t);
  }
  return out;
}

/**
 * The client's address, believing at most `trustedHops` proxies in front of us: each appended the address it saw, so the
 * client is the entry `trustedHops` from the right. Fewer entries than trusted hops (a client that reached an inner
 * trusted proxy directly): the leftmost. Entries further left were written by the client and are never believed.
 * '' when the entry found is not an address (callers fail closed).
 */
export function clientAddress(peer: string, xff: string | readonly string[] | undefined, trustedHops: number): string {
  if (trustedHops <= 0) return canonicalAddress(peer);
  const entries = forwardedEntries(xff);
  if (entries.length === 0) return canonicalAddress(peer);
  return canonicalAddress(entries[Math.max(0, entries.length - trustedHops)]!);
}

/** The x-forwarded-for entries that a trusted proxy vouches for (the last `trustedHops`), to keep toward the upstream. */
export function trustedForwardedEntries(xff: string | readonly string[] | undefined, trustedHops: number): string[] {
  if (trustedHops <= 0) return [];
  const entries = forwardedEntries(xff);
  return entries.slice(Math.max(0, entries.length - trustedHops));
}
