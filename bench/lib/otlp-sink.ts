// A stand-in OTLP/HTTP collector for the tracing-cost benchmark, run as its own process (`node otlp-sink.ts PORT`): answers
// every export 200 at once and counts them, so the proxies pay the whole cost of exporting and none of a slow collector's.
// GET /count answers {"requests": n, "bytes": n}.
import http from 'node:http';

let requests = 0;
let bytes = 0;
const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/count') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ requests, bytes }));
    return;
  }
  req.on('data', (b: Buffer) => { bytes += b.length; });
  req.on('end', () => {
    requests++;
    // An empty ExportTraceServiceResponse is a valid answer in both OTLP encodings.
    res.setHeader('content-type', req.headers['content-type'] === 'application/json' ? 'application/json' : 'application/x-protobuf');
    res.end(req.headers['content-type'] === 'application/json' ? '{}' : '');
  });
});
server.listen(Number(process.argv[2]), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
