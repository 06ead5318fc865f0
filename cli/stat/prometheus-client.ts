// A small client of Prometheus's HTTP API (instant queries), with a typed error per way it can fail so `skein stat` can
// say which: unreachable, not answering in time, refusing the query, or not Prometheus at all.

export type PrometheusErrorCode =
  | 'SKEIN_ERR_PROMETHEUS_UNREACHABLE'
  | 'SKEIN_ERR_PROMETHEUS_TIMEOUT'
  | 'SKEIN_ERR_PROMETHEUS_QUERY'
  | 'SKEIN_ERR_PROMETHEUS_BAD_ANSWER';

export class PrometheusError extends Error {
  readonly code: PrometheusErrorCode;
  constructor(code: PrometheusErrorCode, message: string) {
    super(message);
    this.name = 'PrometheusError';
    this.code = code;
  }
}

/** One series of an instant vector: its labels and its value (NaN kept: histogram_quantile over no requests gives it). */
export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

interface ApiAnswer {
  status?: unknown;
  errorType?: unknown;
  error?: unknown;
  data?: { resultType?: unknown; result?: unknown };
}

/** Runs one instant query (`GET /api/v1/query`); the result must be a vector. */
export async function queryVector(baseUrl: string, promql: string, timeoutMs = 10_000): Promise<Sample[]> {
  let url: URL;
  try {
    url = new URL('api/v1/query', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  } catch {
    throw new PrometheusError('SKEIN_ERR_PROMETHEUS_UNREACHABLE', `"${baseUrl}" is not a URL (want e.g. http://127.0.0.1:9090)`);
  }
  url.searchParams.set('query', promql);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    if (err.name === 'TimeoutError') throw new PrometheusError('SKEIN_ERR_PROMETHEUS_TIMEOUT', `Prometheus at ${baseUrl} did not answer within ${timeoutMs} ms`);
    throw new PrometheusError('SKEIN_ERR_PROMETHEUS_UNREACHABLE', `cannot reach Prometheus at ${baseUrl}: ${err.cause?.code ?? err.cause?.message ?? err.message}`);
  }
  let body: ApiAnswer;
  const text = await res.text().catch(() => '');
  try {
    body = JSON.parse(text) as ApiAnswer;
  } catch {
    throw new PrometheusError('SKEIN_ERR_PROMETHEUS_BAD_ANSWER', `${baseUrl} answered HTTP ${res.status} with something that is not Prometheus's API (${JSON.stringify(text.slice(0, 80))})`);
  }
  if (body.status === 'error') {
    throw new PrometheusError('SKEIN_ERR_PROMETHEUS_QUERY', `Prometheus refused the query (${String(body.errorType)}): ${String(body.error)}`);
  }
  const result = body.data?.result;
  if (body.status !== 'success' || body.data?.resultType !== 'vector' || !Array.isArray(result)) {
    throw new PrometheusError('SKEIN_ERR_PROMETHEUS_BAD_ANSWER', `${baseUrl} answered HTTP ${res.status} without a vector result (is it Prometheus?)`);
  }
  return result.flatMap((s: unknown): Sample[] => {
    const r = s as { metric?: unknown; value?: unknown };
    if (!r || typeof r.metric !== 'object' || r.metric === null || !Array.isArray(r.value)) return [];
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.metric)) if (typeof v === 'string') labels[k] = v;
    return [{ labels, value: Number(r.value[1]) }];
  });
}
