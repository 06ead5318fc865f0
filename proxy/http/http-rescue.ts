// The one place that turns any data-plane failure into the answer a client sees.
import { ERRORS, ProxyError, type ProxyErrorSpec } from '../errors/proxy-error.ts';
import type { Http1Request, Http1Response } from '../http1/server-connection.ts';
import type { H2Request, H2Response } from '../http2/h2-downstream.ts';
import type { Http2Request, Http2Response } from '../http2/server-exchange.ts';

export type DownstreamRequest = Http1Request | Http2Request | H2Request;
export type DownstreamResponse = Http1Response | Http2Response | H2Response;

export const ERROR_HEADER = 'x-skein-error';

function percentEncodeGrpcMessage(s: string): string {
  // grpc-message is percent-encoded UTF-8 for bytes outside 0x20-0x7E and '%'.
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function isGrpcRequest(req: DownstreamRequest): boolean {
  const ct = req.headers['content-type'];
  return typeof ct === 'string' && ct.startsWith('application/grpc');
}

/**
 * Answers `res` for `error`. Before the response started: an HTTP status (or HTTP 200 + grpc-status for gRPC) with
 * x-skein-error naming the cause. After it started: gRPC gets trailers with the status; anything else is reset,
 * since a half-sent body cannot be turned into an error status.
 */
export function rescue(req: DownstreamRequest, res: DownstreamResponse, error: unknown): ProxyErrorSpec {
  const spec = error instanceof ProxyError ? error.spec : ERRORS.internal;
  const grpc = isGrpcRequest(req);
  if (res.destroyed || res.writableEnded) return spec;
  if (!res.headersSent) {
    const h2 = req.httpVersionMajor === 2;
    if (grpc) {
      const headers: Record<string, string> = {
        'content-type': 'application/grpc',
        'grpc-status': String(spec.grpcStatus),
        'grpc-message': percentEncodeGrpcMessage(spec.message),
        [ERROR_HEADER]: spec.cause,
      };
      if (error instanceof ProxyError && error.headers !== null) Object.assign(headers, error.headers);
      // On HTTP/2 a response ended with no body is one HEADERS frame with END_STREAM: gRPC's trailers-only form.
      (res as Http1Response).writeHead(200, headers);
      res.end();
      return spec;
    }
    const body = `${spec.message}\n`;
    const headers: Record<string, string | number> = {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      [ERROR_HEADER]: spec.cause,
    };
    if (spec.closeConnection && !h2) headers.connection = 'close';
    if (error instanceof ProxyError && error.headers !== null) Object.assign(headers, error.headers);
    (res as Http1Response).writeHead(spec.status, headers);
    if (req.method === 'HEAD') res.end();
    else (res as Http1Response).end(body);
    return spec;
  }
  if (grpc && req.httpVersionMajor === 2) {
    res.addTrailers({ 'grpc-status': String(spec.grpcStatus), 'grpc-message': percentEncodeGrpcMessage(spec.message) });
    res.end();
    return spec;
  }
  res.destroy();
  return spec;
}
