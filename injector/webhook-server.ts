// The injector's HTTPS server: POST /mutate answers AdmissionReviews, GET /healthz and /metrics for operators.
//
// The body is read by our own parser so that every request, even an oversized or non-JSON one, still gets an
// AdmissionReview answer (the API server then shows its message) instead of a bare HTTP error.
import type { Server as HttpsServer } from 'node:https';
import Fastify, { type FastifyInstance } from 'fastify';
import { DEFAULT_MAX_REVIEW_BYTES, OutcomeCache, reviewAdmission } from './admission-review.ts';
import { createInjectorMetrics, type InjectorMetrics } from './injector-metrics.ts';
import type { MeshSettings } from './mesh-settings.ts';

export const MUTATE_PATH = '/mutate';

export interface WebhookServerOptions {
  /** The settings, or a function giving the current ones (they change when the control plane publishes a trust bundle). */
  readonly settings: MeshSettings | (() => MeshSettings);
  readonly tls: { readonly key: string; readonly cert: string };
  /** Reviews above this many bytes are not parsed (answered: allowed, not injected). */
  readonly maxReviewBytes?: number;
  /** Past this many bytes the connection is cut: nobody legitimate sends that much. */
  readonly hardBodyLimitBytes?: number;
  /** Whole-request budget (headers and body): a slow sender cannot hold a connection past it. */
  readonly requestTimeoutMs?: number;
  readonly metrics?: InjectorMetrics;
  readonly log?: (line: string) => void;
}

export interface WebhookServer {
  readonly app: FastifyInstance;
  readonly metrics: InjectorMetrics;
  /** Serves a new certificate to new connections; established connections finish with the old one. */
  setCertificate(tls: { key: string; cert: string }): void;
}

interface ReadBody {
  /** The whole body, or only its first bytes when it is over the review limit. */
  readonly head: Buffer;
  readonly size: number;
}

export async function createWebhookServer(opts: WebhookServerOptions): Promise<WebhookServer> {
  const maxReviewBytes = opts.maxReviewBytes ?? DEFAULT_MAX_REVIEW_BYTES;
  const hardLimit = opts.hardBodyLimitBytes ?? 4 * maxReviewBytes;
  const metrics = opts.metrics ?? createInjectorMetrics();
  const log = opts.log ?? (() => {});
  const requestTimeout = opts.requestTimeoutMs ?? 10_000;
  const cache = new OutcomeCache();
  // Cached answers were computed with one settings object: a new one (a published trust bundle) invalidates them all.
  let lastSettings: MeshSettings | null = null;
  const currentSettings = (): MeshSettings => {
    const s = typeof opts.settings === 'function' ? opts.settings() : opts.settings;
    if (s !== lastSettings) {
      if (lastSettings !== null) cache.clear();
      lastSettings = s;
    }
    return s;
  };
  const app = Fastify({
    // connectionsCheckingInterval: how often node enforces requestTimeout (its default, 30 s, is longer than the webhook timeout).
    https: { key: opts.tls.key, cert: opts.tls.cert, minVersion: 'TLSv1.2', connectionsCheckingInterval: Math.min(1000, requestTimeout), headersTimeout: requestTimeout } as never,
    bodyLimit: hardLimit,
    requestTimeout,
    connectionTimeout: requestTimeout * 3,
    keepAliveTimeout: 65_000,
    logger: false,
    return503OnClosing: true,
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let kept = 0;
    let finished = false;
    const finish = (err: Error | null, value?: ReadBody) => {
      if (finished) return;
      finished = true;
      done(err, value);
    };
    payload.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > hardLimit) {
        const e = Object.assign(new Error(`request body exceeds ${hardLimit} bytes`), { statusCode: 413 });
        payload.destroy();
        finish(e);
        return;
      }
      // Keep what we may parse; beyond the review limit keep only a head to find the uid in.
      const keep = size <= maxReviewBytes ? chunk : chunk.subarray(0, Math.max(0, 65_536 - kept));
      if (keep.length > 0) chunks.push(keep);
      kept += keep.length;
    });
    payload.on('end', () => {
      finish(null, { head: Buffer.concat(chunks), size });
    });
    payload.on('error', (e) => finish(e));
  });

  app.setErrorHandler((e, request, reply) => {
    const error = e instanceof Error ? e : new Error(String(e));
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    log(`injector: ${request.method} ${request.url}: ${status} ${error.message}`);
    if (request.url.startsWith(MUTATE_PATH)) {
      metrics.observe('error', 0);
      // Still an AdmissionReview, so the API server reports our message rather than a decoding failure.
      return reply.code(status >= 400 && status < 600 ? status : 500).send({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: { uid: '', allowed: true, warnings: [`skein: not injected: ${error.message}`], status: { code: status, reason: 'InjectorError', message: `skein injector: ${error.message}` } },
      });
    }
    return reply.code(status).send({ error: error.message });
  });

  app.post(MUTATE_PATH, (request, reply) => {
    const started = process.hrtime.bigint();
    const body = request.body as ReadBody | undefined;
    const answer = reviewAdmission(body?.head ?? Buffer.alloc(0), currentSettings(), { maxBytes: maxReviewBytes, totalBytes: body?.size ?? 0, cache });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics.observe(answer.result, seconds);
    if (answer.result === 'error' || answer.result === 'denied') {
      log(`injector: uid=${answer.body.response.uid || '-'} ${answer.result}: ${answer.body.response.status?.message ?? answer.body.response.warnings?.join('; ') ?? ''}`);
    }
    return reply.code(200).header('content-type', 'application/json').send(JSON.stringify(answer.body));
  });

  app.get('/healthz', (_req, reply) => reply.code(200).type('text/plain').send('ok\n'));
  app.get('/metrics', async (_req, reply) => reply.code(200).type(metrics.registry.contentType).send(await metrics.registry.metrics()));
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: `no route ${request.method} ${request.url}` }));

  await app.ready();
  // Errors on individual sockets (peer resets, TLS garbage) must never reach the process.
  const server = app.server as HttpsServer;
  server.on('tlsClientError', () => {});
  server.on('clientError', (_e, socket) => socket.destroy());
  return {
    app,
    metrics,
    setCertificate(tls) {
      server.setSecureContext({ key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2' });
    },
  };
}
