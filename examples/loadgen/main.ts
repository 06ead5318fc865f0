// Example app `skein.dev/example-loadgen`: sends light, bounded HTTP traffic to $TARGET_URL ($RATE requests per second,
// default 2, at most 20) so the demo's dashboards have something to show; serves its counters on $PORT (default 8080).
import { createServer } from 'node:http';
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
  res.end(JSON.stringify({ pod, target, rate, ...counts }) + '\n');
});

const timer = target ? setInterval(tick, 1000 / rate) : undefined;
const report = setInterval(() => console.log(JSON.stringify({ pod, target, rate, ...counts })), 10_000);
server.listen(port, '0.0.0.0', () => console.log(target ? `loadgen ${pod}: ${rate} req/s to ${target}` : 'loadgen: TARGET_URL is not set; sending nothing'));

process.on('SIGTERM', () => {
  clearInterval(timer);
  clearInterval(report);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
});
