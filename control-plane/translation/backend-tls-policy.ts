// BackendTLSPolicy resolved (pure): which policy applies to which Service port (a sectionName names the port; precedence
// by age, then namespace/name; the others Conflicted), its trust anchors (CA ConfigMaps of its namespace, or the well-known
// system roots), its hostname and SANs, and the conditions status reports. Translation gives the ingress's cluster of such a
// port its upstreamTls; a port whose policy cannot be used fails its requests (never plain text to a TLS backend).
import { X509Certificate } from 'node:crypto';
import type { V1ConfigMap, V1Service } from '@kubernetes/client-node';
import type { UpstreamSubjectAltName } from '../../api/config/proxy-config.ts';
import type { BackendTLSPolicy } from '../../api/crd/gateway-api.ts';
import type { ConditionOutcome } from './traffic-policy-resolution.ts';

/** A CA bundle of a policy: a ConfigMap's `ca.crt`. */
export interface BackendCa {
  readonly namespace: string;
  readonly name: string;
  readonly pem: string;
}

/** What a Service port's cluster gets of the policy in force (valid), or why its requests fail (invalid). */
export type PortTls =
  | { readonly valid: true; readonly policy: string; readonly sni: string; readonly cas: readonly BackendCa[]; readonly systemCas: boolean; readonly subjectAltNames: readonly UpstreamSubjectAltName[] }
  | { readonly valid: false; readonly policy: string; readonly reason: string };

export interface BackendTlsOutcome {
  readonly namespace: string;
  readonly name: string;
  readonly generation: number;
  readonly accepted: ConditionOutcome;
  readonly resolvedRefs: ConditionOutcome;
  /** The Services it targets (namespace/name), for the Gateways that are its status ancestors. */
  readonly services: readonly string[];
}

export interface ResolvedBackendTls {
  readonly outcomes: readonly BackendTlsOutcome[];
  /** By `namespace/service:port`. */
  readonly byPort: ReadonlyMap<string, PortTls>;
}

const ok = (reason: string, message: string): ConditionOutcome => ({ status: 'True', reason, message });
const no = (reason: string, message: string): ConditionOutcome => ({ status: 'False', reason, message });

export const backendPortKey = (ns: string, svc: string, port: number): string => `${ns}/${svc}:${port}`;

/** Why a `ca.crt` cannot be a trust anchor (null: one PEM certificate at least, each readable). */
function bundleProblem(pem: string | undefined): string | null {
  if (typeof pem !== 'string' || pem.trim() === '') return 'has no ca.crt key';
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) return 'ca.crt holds no PEM certificate';
  for (const b of blocks) {
    try {
      new X509Certificate(b);
    } catch {
      return 'ca.crt holds a certificate that does not parse';
    }
  }
  return null;
}

/** Older first, then by namespace/name: the Gateway API's precedence among policies of one target. */
function precedence(a: BackendTLSPolicy, b: BackendTLSPolicy): number {
  const ta = Date.parse(a.metadata.creationTimestamp ?? '') || 0;
  const tb = Date.parse(b.metadata.creationTimestamp ?? '') || 0;
  if (ta !== tb) return ta - tb;
  return `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`);
}

export function resolveBackendTlsPolicies(policies: readonly BackendTLSPolicy[], services: readonly V1Service[], configMaps: readonly V1ConfigMap[]): ResolvedBackendTls {
  const cms = new Map(configMaps.map((c) => [`${c.metadata?.namespace}/${c.metadata?.name}`, c]));
  const svcs = new Map(services.map((s) => [`${s.metadata?.namespace}/${s.metadata?.name}`, s]));
  /** `ns/svc|section` ('' for the whole Service) -> the policy that holds it. */
  const holders = new Map<string, string>();
  const outcomes: BackendTlsOutcome[] = [];
  const byPort = new Map<string, PortTls>();
  /** Per port, whether its policy named it by section (a section policy wins over a whole-Service one). */
  const bySection = new Map<string, boolean>();

  for (const p of [...policies].sort(precedence)) {
    const ns = p.metadata.namespace ?? '';
    const id = `${ns}/${p.metadata.name}`;
    const v = p.spec?.validation;
    const targets = (p.spec?.targetRefs ?? []).filter((t) => (t.group ?? '') === '' && t.kind === 'Service');
    const services = [...new Set(targets.map((t) => `${ns}/${t.name}`))];
    const base = { namespace: ns, name: p.metadata.name, generation: p.metadata.generation ?? 0, services };

    // Conflicts: a target and section another policy already holds.
    const conflicts = targets.filter((t) => {
      const holder = holders.get(`${ns}/${t.name}|${t.sectionName ?? ''}`);
      return holder !== undefined && holder !== id;
    });
    if (conflicts.length > 0 && conflicts.length === targets.length) {
      const holder = holders.get(`${ns}/${conflicts[0]!.name}|${conflicts[0]!.sectionName ?? ''}`)!;
      outcomes.push({ ...base, accepted: no('Conflicted', `BackendTLSPolicy ${holder} targets the same Service${conflicts[0]!.sectionName ? ` port ${conflicts[0]!.sectionName}` : ''} and takes precedence (older, or first by name)`), resolvedRefs: ok('ResolvedRefs', 'not evaluated: the policy is not in force') });
      continue;
    }
    for (const t of targets) {
      const k = `${ns}/${t.name}|${t.sectionName ?? ''}`;
      if (!holders.has(k)) holders.set(k, id);
    }

    // Trust anchors: CA ConfigMaps of the policy's namespace, or the well-known system roots.
    const refs = v?.caCertificateRefs ?? [];
    const wellKnown = v?.wellKnownCACertificates;
    const problems: { reason: string; message: string }[] = [];
    const cas: BackendCa[] = [];
    for (const ref of refs) {
      if ((ref.group ?? '') !== '' || ref.kind !== 'ConfigMap') {
        problems.push({ reason: 'InvalidKind', message: `caCertificateRef ${ref.group ? `${ref.group}/` : ''}${ref.kind} ${ref.name}: only core ConfigMaps are supported` });
        continue;
      }
      const cm = cms.get(`${ns}/${ref.name}`);
      const bad = cm === undefined ? 'not found' : bundleProblem(cm.data?.['ca.crt']);
      if (bad !== null) {
        problems.push({ reason: 'InvalidCACertificateRef', message: `caCertificateRef ConfigMap ${ns}/${ref.name}: ${bad}` });
        continue;
      }
      cas.push({ namespace: ns, name: ref.name, pem: cm!.data!['ca.crt']! });
    }
    let accepted: ConditionOutcome = ok('Accepted', 'the policy is in force');
    if (wellKnown !== undefined && wellKnown !== '' && wellKnown !== 'System') accepted = no('Invalid', `wellKnownCACertificates ${wellKnown} is not supported (System is)`);
    else if (refs.length > 0 && wellKnown !== undefined && wellKnown !== '') accepted = no('Invalid', 'give caCertificateRefs or wellKnownCACertificates, not both');
    else if (refs.length === 0 && (wellKnown === undefined || wellKnown === '')) accepted = no('Invalid', 'needs caCertificateRefs or wellKnownCACertificates');
    else if (refs.length > 0 && cas.length === 0) accepted = no('NoValidCACertificate', `no valid CA certificate: ${problems.map((x) => x.message).join('; ')}`);
    const resolvedRefs = problems.length === 0 ? ok('ResolvedRefs', 'every CA certificate reference resolves') : no(problems[0]!.reason, problems.map((x) => x.message).join('; '));
    outcomes.push({ ...base, accepted, resolvedRefs });

    const sans: UpstreamSubjectAltName[] = [];
    for (const s of v?.subjectAltNames ?? []) {
      if (s.type === 'Hostname' && s.hostname) sans.push({ type: 'dns', value: s.hostname.toLowerCase() });
      else if (s.type === 'URI' && s.uri) sans.push({ type: 'uri', value: s.uri });
    }
    // Connections through a policy with any invalid CA reference fail (the Gateway API: never a weaker check instead).
    const tls: PortTls =
      accepted.status === 'True' && problems.length === 0
        ? { valid: true, policy: id, sni: (v?.hostname ?? '').toLowerCase(), cas, systemCas: refs.length === 0 && wellKnown === 'System', subjectAltNames: sans }
        : { valid: false, policy: id, reason: `BackendTLSPolicy ${id} is not usable: ${accepted.status !== 'True' ? accepted.message : problems.map((x) => x.message).join('; ')}` };
    for (const t of targets) {
      if (holders.get(`${ns}/${t.name}|${t.sectionName ?? ''}`) !== id) continue;
      const svc = svcs.get(`${ns}/${t.name}`);
      for (const port of svc?.spec?.ports ?? []) {
        if (t.sectionName !== undefined && t.sectionName !== '' && port.name !== t.sectionName) continue;
        const key = backendPortKey(ns, t.name, port.port);
        const section = t.sectionName !== undefined && t.sectionName !== '';
        // A policy naming the port wins over one for the whole Service, whichever is older.
        if (byPort.has(key) && (bySection.get(key) === true || !section)) continue;
        byPort.set(key, tls);
        bySection.set(key, section);
      }
    }
  }
  outcomes.sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  return { outcomes, byPort };
}
