// Buffer's latin1 fast paths (present on every Node Buffer, missing from @types/node): no encoding lookup per call.
interface Latin1Buffer {
  latin1Slice(start: number, end: number): string;
  latin1Write(s: string, offset: number, length: number): number;
}

export function latin1Slice(buf: Buffer, start: number, end: number): string {
  return (buf as unknown as Latin1Buffer).latin1Slice(start, end);
}

export function latin1Write(buf: Buffer, s: string, offset: number): number {
  return (buf as unknown as Latin1Buffer).latin1Write(s, offset, s.length);
}
