// Writes reproducible tar archives (POSIX ustar, PAX records for long names): entries sorted, mtime fixed, root-owned, no host metadata.
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';

/** One entry of an archive; `path` is relative (no leading slash), directories without a trailing slash. */
export type TarEntry =
  | { readonly kind: 'dir'; readonly path: string; readonly mode?: number }
  | { readonly kind: 'file'; readonly path: string; readonly mode?: number; readonly data: Buffer }
  /** A file copied from the host while writing (never held in memory whole); `size` must be its size. */
  | { readonly kind: 'host-file'; readonly path: string; readonly mode?: number; readonly source: string; readonly size: number }
  | { readonly kind: 'symlink'; readonly path: string; readonly target: string };

/** Every entry's mtime: 1970-01-01, so the same inputs give the same bytes (and the same digest) on every machine. */
export const FIXED_MTIME = 0;
const BLOCK = 512;

function octal(value: number, width: number): string {
  // width - 1 digits and a NUL, as GNU tar and Go's archive/tar write them.
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function header(name: string, type: string, size: number, mode: number, linkname = ''): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii'); // uid
  h.write(octal(0, 8), 116, 'ascii'); // gid
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(FIXED_MTIME, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii'); // checksum field counts as spaces while summing
  h.write(type, 156, 'ascii');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'ascii');
  return h;
}

function paxRecord(key: string, value: string): string {
  // "<len> <key>=<value>\n" where <len> counts itself.
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

/** Sink that writes to a file descriptor and hashes what it writes (a layer's digest is the sha256 of its bytes). */
class HashingSink {
  readonly #fd: number;
  readonly #hash: Hash = createHash('sha256');
  size = 0;
  constructor(fd: number) {
    this.#fd = fd;
  }
  write(buf: Buffer): void {
    let off = 0;
    while (off < buf.length) off += writeSync(this.#fd, buf, off, buf.length - off);
    this.#hash.update(buf);
    this.size += buf.length;
  }
  digest(): string {
    return `sha256:${this.#hash.digest('hex')}`;
  }
}

function pad(sink: HashingSink, size: number): void {
  const rest = size % BLOCK;
  if (rest !== 0) sink.write(Buffer.alloc(BLOCK - rest));
}

function writeHeader(sink: HashingSink, path: string, type: string, size: number, mode: number, linkname = ''): void {
  if (Buffer.byteLength(path) > 99 || Buffer.byteLength(linkname) > 99) {
    const records = paxRecord('path', path) + (linkname ? paxRecord('linkpath', linkname) : '');
    const data = Buffer.from(records, 'utf8');
    sink.write(header('PaxHeaders/entry', 'x', data.length, 0o644));
    sink.write(data);
    pad(sink, data.length);
  }
  sink.write(header(path.slice(0, 99), type, size, mode, linkname.slice(0, 99)));
}

function copyHostFile(sink: HashingSink, source: string, size: number): void {
  const fd = openSync(source, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let done = 0;
    while (done < size) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, size - done), done);
      if (n === 0) throw new Error(`${source} is shorter than ${size} bytes (changed while the image was written)`);
      sink.write(buf.subarray(0, n));
      done += n;
    }
  } finally {
    closeSync(fd);
  }
}

/** Orders entries by path, byte-wise, so parents come before their children and the order never depends on the host. */
export function sortEntries(entries: readonly TarEntry[]): TarEntry[] {
  return [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Writes `entries` (sorted here) as a tar file at `outPath`; returns its sha256 digest (`sha256:<hex>`) and size. */
export function writeTar(outPath: string, entries: readonly TarEntry[]): { digest: string; size: number } {
  const fd = openSync(outPath, 'w', 0o644);
  try {
    const sink = new HashingSink(fd);
    const seen = new Set<string>();
    for (const e of sortEntries(entries)) {
      if (e.path === '' || e.path.startsWith('/') || e.path.split('/').includes('..')) throw new Error(`bad tar path ${JSON.stringify(e.path)}`);
      if (seen.has(e.path)) throw new Error(`duplicate tar path ${e.path}`);
      seen.add(e.path);
      switch (e.kind) {
        case 'dir':
          writeHeader(sink, `${e.path}/`, '5', 0, e.mode ?? 0o755);
          break;
        case 'symlink':
          writeHeader(sink, e.path, '2', 0, 0o777, e.target);
          break;
        case 'file':
          writeHeader(sink, e.path, '0', e.data.length, e.mode ?? 0o644);
          sink.write(e.data);
          pad(sink, e.data.length);
          break;
        case 'host-file':
          writeHeader(sink, e.path, '0', e.size, e.mode ?? 0o644);
          copyHostFile(sink, e.source, e.size);
          pad(sink, e.size);
          break;
      }
    }
    // End of archive: two zero blocks.
    sink.write(Buffer.alloc(BLOCK * 2));
    return { digest: sink.digest(), size: sink.size };
  } finally {
    closeSync(fd);
  }
}
