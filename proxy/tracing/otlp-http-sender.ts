// Sends one batch of spans to an OTLP/HTTP collector (protobuf or JSON); resolves how it went, never rejects or throws.
import http from 'node:http';
import https from 'node:https';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';

export type ExportOutcome = 'ok' | 'timeout' | 'refused' | 'http-status' | 'error';

/** What the batcher calls; a fake in tests. Must resolve within its own timeout and never reject. */
export type SpanSender = (spans: readonly ReadableSpan[]) => Promise<ExportOutcome>;

export interface OtlpHttpOptions {
  readonly url: string;
  readonly protocol: 'http/protobuf' | 'http/json';
  readonly timeoutMs: number;
}

interface Serializer {
  serializeRequest(spans: ReadableSpan[]): Uint8Array | undefined;
}

/**
 * A sender over one keep-alive agent (a single socket: exports are one at a time anyway). The serializers are the
 * OpenTelemetry SDK's own (@opentelemetry/otlp-transformer, which @opentelemetry/exporter-trace-otlp-http uses), loaded here
 * so a proxy without tracing never loads them.
 */
export async function otlpHttpSender(o: OtlpHttpOptions): Promise<SpanSender> {
  const transformer = (await import('@opentelemetry/otlp-transformer')) as unknown as { ProtobufTraceSerializer: Serializer; JsonTraceSerializer: Serializer };
  const serializer = o.protocol === 'http/json' ? transformer.JsonTraceSerializer : transformer.ProtobufTraceSerializer;
  const contentType = o.protocol === 'http/json' ? 'application/json' : 'application/x-protobuf';
  const url = new URL(o.url);
  const lib = url.protocol === 'https:' ? https : http;
  const agent = new lib.Agent({ keepAlive: true, maxSockets: 1 });
  return (spans) =>
    new Promise<ExportOutcome>((resolve) => {
      let body: Uint8Array | undefined;
      try {
        body = serializer.serializeRequest(spans as ReadableSpan[]);
      } catch {
        return resolve('error');
      }
      if (body === undefined) return resolve('error');
      let done = false;
      const finish = (outcome: ExportOutcome): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(outcome);
      };
      const req = lib.request(url, { method: 'POST', agent, headers: { 'content-type': contentType, 'content-length': body.byteLength } }, (res) => {
        res.resume();
        res.on('error', () => finish('error'));
        res.on('end', () => finish(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300 ? 'ok' : 'http-status'));
      });
      // A collector that accepts the connection and then hangs costs at most the timeout (the whole exchange, not idle time).
      const timer = setTimeout(() => {
        finish('timeout');
        req.destroy();
      }, o.timeoutMs);
      req.on('error', (e: NodeJS.ErrnoException) => finish(e.code === 'ECONNREFUSED' ? 'refused' : 'error'));
      req.end(body);
    });
}
