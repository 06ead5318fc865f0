// Example app `skein.dev/example-loadgen`: sends light, bounded HTTP traffic to $TARGET_URL ($RATE requests per second,
// default 2, at most 20) so the demo's dashboards have something to show; with $TCP_TARGET (host:port of a TCP echo, such as
// examples/echo's $TCP_PORT) also one opaque TCP exchange every $TCP_INTERVAL_MS (default 2000): a line sent, the same line
// expected back, then closed. Serves its counters on $PORT (default 8080).
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { hostname } from 'node:os';

const MAX_RATE = 20;
const target = process.env.TARGET_URL;
const rate = Math.min(Math.max(Number(process.env.RATE ?? 2) || 2, 0.1), MAX_RATE);
const port = Number(process.env.PORT ?? 8080);
const pod = process.env.POD_NAME ?? hostname();
// Bounded work per tick: one request per tick, and no new one while this many are still in flight (a slow or dead
// target costs skipped ticks, never a growing pile of pending requests).
const maxInFlight = Math.max(2, Math.ceil(rate * 2));
const timeoutMs = 5000;

const counts = { sent: 0, ok: 0, failed: 0, skipped: 0, inFlight: 0, lastStatus: 0, lastError: '' };

const tcpTarget = /^(.+):(\d+)$/.exec(process.env.TCP_TARGET ?? '');
const tcpIntervalMs = Math.max(Number(process.env.TCP_INTERVAL_MS ?? 2000) || 2000, 100);
const tcpCounts = { tcpSent: 0, tcpOk: 0, tcpFailed: 0, tcpSkipped: 0, tcpLastError: '' };
let tcpInFlight = false;

/** One TCP exchange at a time: a slow or dead target costs skipped intervals, never a pile of open connections. */
function tcpTick(): void {
  if (!tcpTarget) return;
  if (tcpInFlight) {
    tcpCounts.tcpSkipped++;
    return;
  }
  tcpInFlight = true;
  // Not an HTTP method's first byte: the sidecars see opaque TCP from the first packet.
  const line = `> ping ${++tcpCounts.tcpSent} from ${pod}\n`;
  let got = '';
  let failure = '';
  const socket = connect({ host: tcpTarget[1]!, port: Number(tcpTarget[2]) }, () => socket.write(line));
  socket.setTimeout(timeoutMs, () => {
    failure = 'timeout';
    socket.destroy();
  });
  socket.setEncoding('utf8');
  socket.on('data', (c: string) => {
    got += c;
    if (got.length >= line.length) socket.end();
  });
  socket.on('error', (e) => {
    failure = e.message;
  });
  socket.on('close', () => {
    tcpInFlight = false;
    if (!failure && got === line) tcpCounts.tcpOk++;
    else {
      tcpCounts.tcpFailed++;
      tcpCounts.tcpLastError = failure || `answered ${JSON.stringify(got.slice(0, 100))}`;
    }
  });
}

function tick(): void {
  if (!target) return;
  if (counts.inFlight >= maxInFlight) {
    counts.skipped++;
    return;
  }
  counts.inFlight++;
  counts.sent++;
  fetch(new URL('/loadgen', target), { signal: AbortSignal.timeout(timeoutMs) })
    .then(async (r) => {
      await r.arrayBuffer();
      counts.lastStatus = r.status;
      if (r.ok) counts.ok++;
      else counts.failed++;
    })
    .catch((e: unknown) => {
      counts.failed++;
      counts.lastError = String((e as Error).cause ?? e);
    })
    .finally(() => counts.inFlight--);
}

const server = createServer((req, res) => {
  if (req.url === '/healthz') { res.writeHead(200).end('ok'); return; }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ pod, target, rate, ...counts, ...(tcpTarget ? { tcpTarget: tcpTarget[0], ...tcpCounts } : {}) }) + '\n');
});

const timer = target ? setInterval(tick, 1000 / rate) : undefined;
const tcpTimer = tcpTarget ? setInterval(tcpTick, tcpIntervalMs) : undefined;
const report = setInterval(() => console.log(JSON.stringify({ pod, target, rate, ...counts, ...(tcpTarget ? tcpCounts : {}) })), 10_000);
server.listen(port, '0.0.0.0', () => console.log(target ? `loadgen ${pod}: ${rate} req/s to ${target}` : 'loadgen: TARGET_URL is not set; sending nothing'));

process.on('SIGTERM', () => {
  clearInterval(timer);
  clearInterval(tcpTimer);
  clearInterval(report);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
});
