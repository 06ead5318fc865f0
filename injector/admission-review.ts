// Turns the raw body of an AdmissionReview request into the AdmissionReview answer; never throws, whatever the input.
//
// Policy: allowed:false only for pods whose skein annotations are invalid (the user must fix them); anything else that
// we cannot or should not inject is allowed unchanged, with a warning when the user would want to know.
import { injectPod } from './inject-pod.ts';
import { formatProblems } from './injection-problem.ts';
import type { AdmissionResult } from './injector-metrics.ts';
import type { MeshSettings } from './mesh-settings.ts';
import { isPlainObject } from './pod-types.ts';

export const ADMISSION_V1 = 'admission.k8s.io/v1';
const ADMISSION_V1BETA1 = 'admission.k8s.io/v1beta1';
export const DEFAULT_MAX_REVIEW_BYTES = 4 * 1024 * 1024;

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: 'JSONPatch';
  patch?: string;
  warnings?: string[];
  status?: { code: number; reason: string; message: string };
}

export interface AdmissionReviewAnswer {
  readonly result: AdmissionResult;
  readonly body: { apiVersion: string; kind: 'AdmissionReview'; response: AdmissionResponse };
}

// Warnings reach kubectl users; the API server truncates long ones, so keep them short and prefixed.
function warning(text: string): string {
  const w = `skein: ${text}`;
  return w.length > 240 ? `${w.slice(0, 237)}...` : w;
}

/** The uid from a body we could not (or would not) parse, so the API server can still match the answer. */
function sniffUid(raw: Buffer | string): string {
  const head = (typeof raw === 'string' ? raw.slice(0, 65536) : raw.subarray(0, 65536).toString('utf8'));
  const m = /"uid"\s*:\s*"([0-9A-Za-z-]{1,128})"/.exec(head);
  return m ? m[1]! : '';
}

function answer(apiVersion: string, result: AdmissionResult, response: AdmissionResponse): AdmissionReviewAnswer {
  return { result, body: { apiVersion, kind: 'AdmissionReview', response } };
}

function allowWithWarning(apiVersion: string, uid: string, text: string, result: AdmissionResult = 'skipped'): AdmissionReviewAnswer {
  return answer(apiVersion, result, { uid, allowed: true, warnings: [warning(text)] });
}

export interface ReviewLimits {
  readonly maxBytes?: number;
  /** The body's real size when `raw` is only its head (the server stops keeping bytes past the limit). */
  readonly totalBytes?: number;
  /** Memo of recent outcomes; the mutation is pure, and a Deployment's new pods are identical at admission time. */
  readonly cache?: OutcomeCache;
}

type CachedOutcome = { readonly result: AdmissionResult; readonly response: Omit<AdmissionResponse, 'uid'> };

/** A small LRU of answers by (namespace, pod JSON). Entries hold no uid: each answer gets its request's own. */
export class OutcomeCache {
  readonly #max: number;
  readonly #maxKeyLength: number;
  readonly #map = new Map<string, CachedOutcome>();
  hits = 0;
  misses = 0;

  constructor(max = 256, maxKeyLength = 64 * 1024) {
    this.#max = max;
    this.#maxKeyLength = maxKeyLength;
  }

  key(namespace: string, object: unknown): string | null {
    const text = JSON.stringify(object) ?? '';
    return text.length > this.#maxKeyLength ? null : `${namespace}\u0000${text}`;
  }

  get(key: string): CachedOutcome | undefined {
    const v = this.#map.get(key);
    if (v) {
      this.#map.delete(key);
      this.#map.set(key, v);
      this.hits++;
    } else this.misses++;
    return v;
  }

  set(key: string, value: CachedOutcome): void {
    this.#map.set(key, value);
    if (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value!);
  }

  /** Forgets every answer (the settings they were computed with changed). */
  clear(): void {
    this.#map.clear();
  }
}

export function reviewAdmission(raw: Buffer | string, settings: MeshSettings, limits: ReviewLimits = {}): AdmissionReviewAnswer {
  try {
    const size = limits.totalBytes ?? (typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length);
    return reviewUnsafe(raw, size, settings, limits.maxBytes ?? DEFAULT_MAX_REVIEW_BYTES, limits.cache ?? null);
  } catch (e) {
    // Cannot happen by design; if it does, the pod is admitted unchanged and the operator sees why.
    return allowWithWarning(ADMISSION_V1, sniffUid(raw), `not injected: internal error: ${(e as Error)?.message ?? String(e)}`, 'error');
  }
}

function reviewUnsafe(raw: Buffer | string, size: number, settings: MeshSettings, maxBytes: number, cache: OutcomeCache | null): AdmissionReviewAnswer {
  if (size > maxBytes) {
    return allowWithWarning(ADMISSION_V1, sniffUid(raw), `not injected: AdmissionReview of ${size} bytes exceeds the injector's limit of ${maxBytes} bytes`, 'error');
  }
  let review: unknown;
  try {
    review = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch (e) {
    return allowWithWarning(ADMISSION_V1, sniffUid(raw), `not injected: the AdmissionReview is not valid JSON (${(e as Error).message})`, 'error');
  }
  if (!isPlainObject(review)) return allowWithWarning(ADMISSION_V1, '', 'not injected: the body is not an AdmissionReview object', 'error');
  const apiVersion = review.apiVersion === ADMISSION_V1BETA1 ? ADMISSION_V1BETA1 : ADMISSION_V1;
  const request = review.request;
  const uid = isPlainObject(request) && typeof request.uid === 'string' ? request.uid : '';
  if (review.apiVersion !== ADMISSION_V1 && review.apiVersion !== ADMISSION_V1BETA1) {
    return allowWithWarning(ADMISSION_V1, uid, `not injected: unsupported apiVersion ${JSON.stringify(review.apiVersion)} (want ${ADMISSION_V1})`, 'error');
  }
  if (review.kind !== 'AdmissionReview') return allowWithWarning(apiVersion, uid, `not injected: unexpected kind ${JSON.stringify(review.kind)}`, 'error');
  if (!isPlainObject(request) || uid === '') return allowWithWarning(apiVersion, uid, 'not injected: the AdmissionReview has no request.uid', 'error');

  const kind = isPlainObject(request.kind) ? request.kind : {};
  const resource = isPlainObject(request.resource) ? request.resource : {};
  const isPod = (kind.group ?? '') === '' && kind.kind === 'Pod' && (resource.resource === undefined || resource.resource === 'pods');
  if (!isPod || (request.subResource !== undefined && request.subResource !== '')) {
    const what = `${String(kind.kind ?? resource.resource ?? 'unknown')}${request.subResource ? `/${String(request.subResource)}` : ''}`;
    return allowWithWarning(apiVersion, uid, `not injected: the injector handles pods, not ${what}`);
  }
  if (request.operation !== 'CREATE') {
    return allowWithWarning(apiVersion, uid, `not injected: only CREATE is handled, not ${String(request.operation)}`);
  }
  const object = request.object;
  const podNamespace = isPlainObject(object) && isPlainObject(object.metadata) && typeof object.metadata.namespace === 'string' ? object.metadata.namespace : '';
  const namespace = typeof request.namespace === 'string' && request.namespace !== '' ? request.namespace : podNamespace;

  const key = cache ? cache.key(namespace, object) : null;
  const cached = key !== null ? cache!.get(key) : undefined;
  if (cached) return answer(apiVersion, cached.result, { uid, ...cached.response });
  const fresh = podAnswer(apiVersion, uid, object, namespace, settings);
  if (key !== null) {
    const { uid: _uid, ...response } = fresh.body.response;
    cache!.set(key, { result: fresh.result, response });
  }
  return fresh;
}

function podAnswer(apiVersion: string, uid: string, object: unknown, namespace: string, settings: MeshSettings): AdmissionReviewAnswer {
  const outcome = injectPod(object, { name: namespace }, settings);
  switch (outcome.kind) {
    case 'injected': {
      const response: AdmissionResponse = {
        uid,
        allowed: true,
        patchType: 'JSONPatch',
        patch: Buffer.from(JSON.stringify(outcome.patch)).toString('base64'),
      };
      if (outcome.warnings.length > 0) response.warnings = outcome.warnings.map(warning);
      return answer(apiVersion, 'injected', response);
    }
    case 'skipped':
      return answer(apiVersion, 'skipped', outcome.warn ? { uid, allowed: true, warnings: [warning(outcome.message)] } : { uid, allowed: true });
    case 'invalid':
      return answer(apiVersion, 'denied', {
        uid,
        allowed: false,
        status: { code: 400, reason: 'BadRequest', message: `skein: invalid injection settings: ${formatProblems(outcome.problems)}` },
      });
  }
}
