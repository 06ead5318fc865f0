// Every TrafficPolicy of the mesh resolved at once (pure): per Service port, the policy in force section by section
// after merging, and per policy its outcome (Accepted / Invalid / TargetNotFound / Conflicted, naming the winner).
//
// Merge rule (docs/traffic-policy.md): per Service port, each section (retries, timeouts, circuitBreaker, ...) comes
// from one policy: a policy naming that port beats one naming the whole Service (an override, not a conflict); between
// policies of the same specificity the older creationTimestamp wins, then the smaller name; the others lose that
// section and are marked Conflicted naming the winner.
import type { V1Service } from '@kubernetes/client-node';
import type { TrafficPolicy } from '../../api/crd/traffic-policy.ts';
import { compileTrafficPolicy, POLICY_SECTIONS, sectionsOf, type CompiledSections, type PolicySection } from './traffic-policy-compile.ts';

export interface ConditionOutcome {
  readonly status: 'True' | 'False';
  readonly reason: string;
  readonly message: string;
}

/** What the status writer records on one TrafficPolicy. */
export interface TrafficPolicyOutcome {
  readonly namespace: string;
  readonly name: string;
  readonly generation: number;
  readonly accepted: ConditionOutcome;
  readonly conflicted: ConditionOutcome;
}

/** The merged policy of one Service port, and which policy ("ns/name") each section came from. */
export interface PortPolicy {
  readonly sections: CompiledSections;
  readonly from: Readonly<Partial<Record<PolicySection, string>>>;
}

export interface ResolvedTrafficPolicies {
  /** Keyed by `ns/service/port`. */
  readonly byPort: ReadonlyMap<string, PortPolicy>;
  readonly outcomes: readonly TrafficPolicyOutcome[];
  /** Problems of the merge itself (a merged combination the proxy would refuse, and what was done instead). */
  readonly problems: readonly { readonly object: string; readonly message: string }[];
}

export const portKey = (ns: string, service: string, port: number): string => `${ns}/${service}/${port}`;

interface Candidate {
  readonly id: string;
  readonly port: number | undefined;
  readonly created: number;
  readonly name: string;
  readonly sections: CompiledSections;
}

function createdAt(v: unknown): number {
  const t = v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isFinite(t) ? t : Number.MAX_SAFE_INTEGER;
}

/** Precedence: port-specific first, then older, then smaller name. */
function precedes(a: Candidate, b: Candidate): number {
  const sa = a.port === undefined ? 1 : 0;
  const sb = b.port === undefined ? 1 : 0;
  if (sa !== sb) return sa - sb;
  if (a.created !== b.created) return a.created - b.created;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

const ACCEPTED: ConditionOutcome = { status: 'True', reason: 'Accepted', message: 'the policy is in force' };
const NO_CONFLICT: ConditionOutcome = { status: 'False', reason: 'NoConflict', message: 'no other policy sets the same fields for this target' };

export function resolveTrafficPolicies(policies: readonly TrafficPolicy[], services: readonly V1Service[]): ResolvedTrafficPolicies {
  const serviceByKey = new Map<string, V1Service>();
  for (const s of services) serviceByKey.set(`${s.metadata?.namespace}/${s.metadata?.name}`, s);
  const outcomes = new Map<string, TrafficPolicyOutcome>();
  const byService = new Map<string, Candidate[]>();
  const problems: { object: string; message: string }[] = [];

  const sorted = [...policies].sort((a, b) => `${a.metadata?.namespace}/${a.metadata?.name}`.localeCompare(`${b.metadata?.namespace}/${b.metadata?.name}`));
  for (const p of sorted) {
    const ns = p.metadata?.namespace ?? '';
    const name = p.metadata?.name ?? '';
    const id = `${ns}/${name}`;
    const generation = p.metadata?.generation ?? 0;
    const fail = (reason: string, message: string): void =>
      void outcomes.set(id, { namespace: ns, name, generation, accepted: { status: 'False', reason, message }, conflicted: NO_CONFLICT });
    const target = p.spec?.targetRef;
    if (!target || target.kind !== 'Service' || (target.group ?? '') !== '' || !target.name) {
      fail('Invalid', 'spec.targetRef: must name a core Service (group "" and kind Service)');
      continue;
    }
    const compiled = compileTrafficPolicy(p.spec);
    if (!compiled.ok) {
      fail('Invalid', compiled.error.map((e) => `${e.path}: ${e.message}`).join('; '));
      continue;
    }
    const svcKey = `${ns}/${target.name}`;
    const svc = serviceByKey.get(svcKey);
    if (!svc) {
      fail('TargetNotFound', `Service ${svcKey} not found`);
      continue;
    }
    if (target.port !== undefined && !(svc.spec?.ports ?? []).some((sp) => sp.port === target.port)) {
      fail('TargetNotFound', `Service ${svcKey} has no port ${target.port}`);
      continue;
    }
    outcomes.set(id, { namespace: ns, name, generation, accepted: ACCEPTED, conflicted: NO_CONFLICT });
    let list = byService.get(svcKey);
    if (!list) byService.set(svcKey, (list = []));
    list.push({ id, port: target.port, created: createdAt(p.metadata?.creationTimestamp), name, sections: compiled.value });
  }

  const byPort = new Map<string, PortPolicy>();
  /** Per losing policy: section -> the winner it lost to. */
  const lost = new Map<string, Map<PolicySection, string>>();
  const applied = new Set<string>();
  for (const [svcKey, candidates] of byService) {
    const svc = serviceByKey.get(svcKey)!;
    const [ns, svcName] = svcKey.split('/') as [string, string];
    for (const sp of svc.spec?.ports ?? []) {
      const here = candidates.filter((c) => c.port === undefined || c.port === sp.port).sort(precedes);
      if (here.length === 0) continue;
      const sections: Record<string, unknown> = {};
      const from: Partial<Record<PolicySection, string>> = {};
      for (const section of POLICY_SECTIONS) {
        const holders = here.filter((c) => c.sections[section] !== undefined);
        const winner = holders[0];
        if (!winner) continue;
        sections[section] = winner.sections[section];
        from[section] = winner.id;
        applied.add(winner.id);
        for (const loser of holders.slice(1)) {
          // A port-specific policy overriding a whole-Service one on its port is the documented override.
          if ((loser.port === undefined) !== (winner.port === undefined)) continue;
          let m = lost.get(loser.id);
          if (!m) lost.set(loser.id, (m = new Map()));
          m.set(section, winner.id);
        }
      }
      const merged = sections as CompiledSections;
      // Sections from two policies can combine into what neither said: a per-try timeout beyond the request timeout.
      const r = merged.retries;
      const t = merged.timeouts;
      if (r && t && t.requestMs > 0 && r.perTryTimeoutMs > t.requestMs) {
        sections.retries = { ...r, perTryTimeoutMs: 0 };
        problems.push({
          object: `TrafficPolicy ${from.retries}`,
          message: `on ${svcKey}:${sp.port} its perTryTimeout exceeds the request timeout of ${from.timeouts}; the per-try timeout is dropped there`,
        });
      }
      byPort.set(portKey(ns, svcName, sp.port), { sections: sections as CompiledSections, from });
    }
  }

  for (const [svcKey, candidates] of byService) {
    void svcKey;
    for (const c of candidates) {
      const m = lost.get(c.id);
      const prev = outcomes.get(c.id)!;
      if (!m) continue;
      const byWinner = new Map<string, PolicySection[]>();
      for (const [section, winner] of m) byWinner.set(winner, [...(byWinner.get(winner) ?? []), section]);
      const message = [...byWinner].map(([w, s]) => `${s.join(', ')} set by ${w}, which takes precedence (older, or same age and smaller name)`).join('; ');
      const everything = !applied.has(c.id) && sectionsOf(c.sections).length > 0;
      outcomes.set(c.id, {
        ...prev,
        accepted: everything ? { status: 'False', reason: 'Conflicted', message: `nothing of this policy is in force: ${message}` } : prev.accepted,
        conflicted: { status: 'True', reason: 'Conflicted', message },
      });
    }
  }
  return { byPort, outcomes: [...outcomes.values()], problems };
}
