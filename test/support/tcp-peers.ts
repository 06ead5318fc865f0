// A raw opaque-TCP client for proxy tests: what it received and how its connection ended (the app side is
// startTcpEcho in upstreams.ts).
import net from 'node:net';

export interface TcpClient {
  readonly socket: net.Socket;
  /** What it received so far, as latin1 (byte for byte). */
  received(): string;
  /** Resolves with the error code it ended with ('' for a clean close), or 'still open' after 10 s (a bound, not a guess). */
  readonly ended: Promise<string>;
}

/** Connects to 127.0.0.1:`port` and sends `first` (a string is sent as latin1, byte for byte). */
export function tcpClient(port: number, first?: Buffer | string): TcpClient {
  const socket = net.connect({ host: '127.0.0.1', port });
  let got = '';
  let code = '';
  socket.setEncoding('latin1');
  socket.on('data', (c: string) => (got += c));
  socket.on('error', (e: NodeJS.ErrnoException) => (code = e.code ?? e.message));
  if (first !== undefined) socket.write(typeof first === 'string' ? Buffer.from(first, 'latin1') : first);
  const ended = new Promise<string>((r) => {
    const bound = setTimeout(() => r('still open'), 10_000);
    socket.once('close', () => {
      clearTimeout(bound);
      r(code);
    });
  });
  return { socket, received: () => got, ended };
}
