// Parses the comma-separated port and CIDR lists of the exclude-* annotations; strict, because they end up in an iptables script.
import { isIP } from 'node:net';
import { err, ok, type Result } from '../api/result.ts';

/** A single port or an inclusive range, as iptables spells it (`8080` or `9000:9100`). */
export type PortSpec = { readonly from: number; readonly to: number };

export function formatPortSpec(p: PortSpec): string {
  return p.from === p.to ? String(p.from) : `${p.from}:${p.to}`;
}

function parsePort(text: string): number | null {
  if (!/^\d{1,5}$/.test(text)) return null;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : null;
}

/** "8080, 9000-9100" -> port specs; empty text -> []. */
export function parsePortList(text: string): Result<PortSpec[], string> {
  const out: PortSpec[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const range = /^(\d+)\s*[-:]\s*(\d+)$/.exec(item);
    if (range) {
      const from = parsePort(range[1]!);
      const to = parsePort(range[2]!);
      if (from === null || to === null || from > to) return err(`"${item}" is not a valid port range (1-65535, low-high)`);
      out.push({ from, to });
      continue;
    }
    const port = parsePort(item);
    if (port === null) return err(`"${item}" is not a valid port (1-65535)`);
    out.push({ from: port, to: port });
  }
  return ok(out);
}

export interface Cidr {
  readonly family: 4 | 6;
  /** Canonical text, e.g. "10.0.0.0/8" or "fd00::/8". */
  readonly text: string;
}

/** "10.0.0.0/8, 192.168.1.1, fd00::/8" -> CIDRs; a bare address gets /32 or /128. */
export function parseCidrList(text: string): Result<Cidr[], string> {
  const out: Cidr[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const slash = item.indexOf('/');
    const addr = slash < 0 ? item : item.slice(0, slash);
    const family = isIP(addr);
    if (family !== 4 && family !== 6) return err(`"${item}" is not a valid CIDR (address/prefix)`);
    const max = family === 4 ? 32 : 128;
    let prefix = max;
    if (slash >= 0) {
      const p = item.slice(slash + 1);
      if (!/^\d{1,3}$/.test(p) || Number(p) > max) return err(`"${item}" has an invalid prefix length (0-${max})`);
      prefix = Number(p);
    }
    out.push({ family, text: `${addr.toLowerCase()}/${prefix}` });
  }
  return ok(out);
}
