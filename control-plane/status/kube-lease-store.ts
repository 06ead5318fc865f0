// The status-writer Lease in the Kubernetes API (coordination.k8s.io/v1, skein-system/skein-control-plane-status):
// read, create, and replace with the resourceVersion read (a lost race is a 409 'conflict', never an overwrite).
import * as k8s from '@kubernetes/client-node';
import type { LeaseRecord, LeaseStore } from './lease-elector.ts';

export const STATUS_LEASE_NAME = 'skein-control-plane-status';

/** MicroTime as the API server parses it (RFC 3339 with exactly six fractional digits). */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function epochMs(v: unknown): number {
  const t = v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isFinite(t) ? t : 0;
}

function status(e: unknown): number | undefined {
  const x = e as { code?: unknown; statusCode?: unknown };
  return typeof x?.code === 'number' ? x.code : typeof x?.statusCode === 'number' ? x.statusCode : undefined;
}

export class KubeLeaseStore implements LeaseStore {
  readonly #api: k8s.CoordinationV1Api;
  readonly #namespace: string;
  readonly #name: string;

  constructor(kc: k8s.KubeConfig, namespace: string, name = STATUS_LEASE_NAME) {
    this.#api = kc.makeApiClient(k8s.CoordinationV1Api);
    this.#namespace = namespace;
    this.#name = name;
  }

  #toRecord(l: k8s.V1Lease): LeaseRecord {
    const s = l.spec ?? {};
    return {
      holder: s.holderIdentity ?? '',
      leaseDurationMs: (s.leaseDurationSeconds ?? 15) * 1000,
      acquireTime: epochMs(s.acquireTime),
      renewTime: epochMs(s.renewTime),
      transitions: s.leaseTransitions ?? 0,
      version: l.metadata?.resourceVersion,
    };
  }

  #toLease(r: LeaseRecord): k8s.V1Lease {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.#name, namespace: this.#namespace, resourceVersion: r.version, labels: { 'app.kubernetes.io/part-of': 'skein' } },
      spec: {
        holderIdentity: r.holder,
        leaseDurationSeconds: Math.max(1, Math.round(r.leaseDurationMs / 1000)),
        // client-node passes V1MicroTime through as given: a string the API server parses.
        acquireTime: microTime(r.acquireTime) as unknown as Date,
        renewTime: microTime(r.renewTime) as unknown as Date,
        leaseTransitions: r.transitions,
      },
    };
  }

  async get(): Promise<LeaseRecord | null> {
    try {
      return this.#toRecord(await this.#api.readNamespacedLease({ name: this.#name, namespace: this.#namespace }));
    } catch (e) {
      if (status(e) === 404) return null;
      throw e;
    }
  }

  async create(r: LeaseRecord): Promise<LeaseRecord | 'conflict'> {
    try {
      return this.#toRecord(await this.#api.createNamespacedLease({ namespace: this.#namespace, body: this.#toLease(r) }));
    } catch (e) {
      if (status(e) === 409) return 'conflict';
      throw e;
    }
  }

  async update(r: LeaseRecord): Promise<LeaseRecord | 'conflict'> {
    try {
      return this.#toRecord(await this.#api.replaceNamespacedLease({ name: this.#name, namespace: this.#namespace, body: this.#toLease(r) }));
    } catch (e) {
      if (status(e) === 409) return 'conflict';
      throw e;
    }
  }
}
