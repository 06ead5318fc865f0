// The features Skein claims to the Gateway API conformance suite (conformance/claims.yaml), read and checked as a whole.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { GatewayApiChannel } from '../local-cluster/gateway-api-crds.ts';

/** The profiles `npm run conformance` runs (the suite also knows MESH-GRPC, GATEWAY-TLS...: claimed here as they come). */
export const CONFORMANCE_PROFILES = ['MESH-HTTP', 'GATEWAY-HTTP', 'GATEWAY-GRPC'] as const;
export type ConformanceProfile = (typeof CONFORMANCE_PROFILES)[number];

export const CLAIMS_FILE = join(import.meta.dirname, 'claims.yaml');

export interface ImplementationInfo {
  readonly organization: string;
  readonly project: string;
  readonly url: string;
  readonly contact: readonly string[];
}

export interface ConformanceClaims {
  /** The GatewayClass the Gateway profiles run against (the ingress's). */
  readonly gatewayClass: string;
  readonly implementation: ImplementationInfo;
  /** Per profile, the features passed to the suite as --supported-features (core features included). */
  readonly features: Readonly<Record<ConformanceProfile, readonly string[]>>;
  /** Per profile, the CRD channel installed for its run (`crdChannel`, default standard; the report names it). */
  readonly channels: Readonly<Record<ConformanceProfile, GatewayApiChannel>>;
}

export type ClaimsResult = { readonly ok: true; readonly value: ConformanceClaims } | { readonly ok: false; readonly problems: readonly string[] };

/** Feature names are the suite's Go constants' values: one CamelCase word. */
const FEATURE_NAME = /^[A-Z][A-Za-z0-9]*$/;
/** A Kubernetes object name (RFC 1123 subdomain). */
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export function isConformanceProfile(v: string): v is ConformanceProfile {
  return (CONFORMANCE_PROFILES as readonly string[]).includes(v);
}

function nonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v.trim() !== '';
}

/** Checks the parsed document and returns every problem at once, each with its path. */
export function checkClaims(doc: unknown): ClaimsResult {
  const problems: string[] = [];
  const root = (doc ?? {}) as Record<string, unknown>;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { ok: false, problems: ['the claims file must be a YAML mapping'] };
  for (const k of Object.keys(root)) if (!['gatewayClass', 'implementation', 'profiles'].includes(k)) problems.push(`${k}: unknown field`);

  if (!nonEmptyString(root.gatewayClass) || !OBJECT_NAME.test(root.gatewayClass)) problems.push('gatewayClass: must be a Kubernetes object name');

  const impl = (root.implementation ?? {}) as Record<string, unknown>;
  if (typeof root.implementation !== 'object' || root.implementation === null) problems.push('implementation: required (organization, project, url, contact)');
  for (const k of ['organization', 'project', 'url'] as const) if (!nonEmptyString(impl[k])) problems.push(`implementation.${k}: required, a non-empty string`);
  if (nonEmptyString(impl.url) && !/^https?:\/\/\S+$/.test(impl.url)) problems.push('implementation.url: must be an http(s) URL');
  const contact = impl.contact;
  if (!Array.isArray(contact) || contact.length === 0 || !contact.every(nonEmptyString)) problems.push('implementation.contact: required, a non-empty list of strings');

  const profiles = (root.profiles ?? {}) as Record<string, unknown>;
  if (typeof root.profiles !== 'object' || root.profiles === null || Array.isArray(root.profiles)) problems.push('profiles: required, a mapping of profile name to its features');
  const features = {} as Record<ConformanceProfile, readonly string[]>;
  const channels = {} as Record<ConformanceProfile, GatewayApiChannel>;
  for (const [name, body] of Object.entries(profiles)) {
    if (!isConformanceProfile(name)) {
      problems.push(`profiles.${name}: unknown profile (one of ${CONFORMANCE_PROFILES.join(', ')})`);
      continue;
    }
    for (const k of Object.keys((body ?? {}) as object)) if (k !== 'features' && k !== 'crdChannel') problems.push(`profiles.${name}.${k}: unknown field`);
    const channel = (body as { crdChannel?: unknown } | null)?.crdChannel ?? 'standard';
    if (channel !== 'standard' && channel !== 'experimental') problems.push(`profiles.${name}.crdChannel: ${JSON.stringify(channel)} is not standard or experimental`);
    else channels[name] = channel;
    const list = (body as { features?: unknown } | null)?.features;
    if (!Array.isArray(list) || list.length === 0) {
      problems.push(`profiles.${name}.features: required, a non-empty list`);
      continue;
    }
    const seen = new Set<string>();
    list.forEach((f, i) => {
      if (typeof f !== 'string' || !FEATURE_NAME.test(f)) problems.push(`profiles.${name}.features[${i}]: ${JSON.stringify(f)} is not a feature name`);
      else if (seen.has(f)) problems.push(`profiles.${name}.features[${i}]: ${f} is listed twice`);
      else seen.add(f);
    });
    features[name] = [...seen];
  }
  for (const p of CONFORMANCE_PROFILES) if (!(p in profiles)) problems.push(`profiles.${p}: missing`);
  // The suite's own rule: a profile's core features are always tested; claiming none of them would test nothing.
  if (features['MESH-HTTP'] && !features['MESH-HTTP'].includes('Mesh')) problems.push('profiles.MESH-HTTP.features: must include Mesh (its core feature)');
  for (const p of ['GATEWAY-HTTP', 'GATEWAY-GRPC'] as const) {
    if (features[p] && !features[p].includes('Gateway')) problems.push(`profiles.${p}.features: must include Gateway (its core feature)`);
  }

  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    value: {
      gatewayClass: root.gatewayClass as string,
      implementation: { organization: impl.organization as string, project: impl.project as string, url: impl.url as string, contact: contact as string[] },
      features,
      channels,
    },
  };
}

/** Reads and checks the claims file (a YAML syntax error is one problem among the others). */
export function loadClaims(path = CLAIMS_FILE): ClaimsResult {
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, 'utf8'));
  } catch (e) {
    return { ok: false, problems: [`${path}: ${(e as Error).message.split('\n')[0]}`] };
  }
  return checkClaims(doc);
}
