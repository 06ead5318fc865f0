// Every AuthorizationPolicy and MeshTLSPolicy of the mesh resolved at once (pure), then asked per pod: the inbound
// listener's mTLS mode and authorization for that workload, and per policy its outcome for the status writer.
//
// mTLS precedence (docs/identity.md): a workload policy (selector or targetRef) over its namespace's policy (neither) over
// the mesh's (a policy without selector in the mesh namespace) over the control plane's default; field by field (`mode`,
// then each port), so a workload policy that only names a port keeps its namespace's mode. Between policies of one level
// that set the same field, the older creationTimestamp wins, then the smaller name; the others are Conflicted.
// Authorization: a workload is allowed what any rule of any policy selecting it allows; selected by none, the default.
import type { V1Namespace, V1Pod, V1Service } from '@kubernetes/client-node';
import type { AuthorizationConfig, AuthorizationPolicyConfig, InboundMtlsConfig, InboundMtlsMode } from '../../api/config/mesh-identity-config.ts';
import type { AuthorizationPolicy } from '../../api/crd/authorization-policy.ts';
import type { MeshTLSPolicy } from '../../api/crd/mesh-tls-policy.ts';
import { MESH_IDENTITY_ANNOTATION } from '../../api/mesh/mesh-constants.ts';
import { compileAuthorizationPolicy } from './authorization-compile.ts';
import { resolveSelection, selectsPod, type WorkloadSelection } from './workload-selection.ts';

/** Namespace annotation: `allow` or `deny`, this namespace's authorization default (over the control plane's). */
export const AUTHORIZATION_DEFAULT_ANNOTATION = 'skein.dev/authorization-default';
/** The proxy config's limit on policies per listener (api/config/mesh-identity-schema.ts). */
const MAX_POLICIES_PER_WORKLOAD = 1024;

export interface InboundDefaults {
  readonly trustDomain: string;
  /** Where a MeshTLSPolicy without selector is mesh-wide (skein-system). */
  readonly meshNamespace: string;
  /** For a workload no AuthorizationPolicy selects (a namespace's annotation overrides it). */
  readonly authorizationDefault: 'allow' | 'deny';
  /** When no MeshTLSPolicy says anything. */
  readonly mtlsMode: InboundMtlsMode;
}

export interface ConditionOutcome {
  readonly status: 'True' | 'False';
  readonly reason: string;
  readonly message: string;
}

export interface PolicyOutcome {
  readonly kind: 'AuthorizationPolicy' | 'MeshTLSPolicy';
  readonly namespace: string;
  readonly name: string;
  readonly generation: number;
  readonly accepted: ConditionOutcome;
  /** MeshTLSPolicy only. */
  readonly conflicted?: ConditionOutcome;
}

/** The inbound settings of one workload, and the problems found while resolving them. */
export interface WorkloadInbound {
  readonly mtls: InboundMtlsConfig | null;
  readonly authorization: AuthorizationConfig | null;
  readonly problems: readonly string[];
}

interface AuthzEntry {
  readonly selection: WorkloadSelection;
  readonly config: AuthorizationPolicyConfig;
}

type Field = 'mode' | `port:${number}`;

interface TlsEntry {
  readonly id: string;
  readonly created: number;
  readonly level: 'mesh' | 'namespace' | 'workload';
  readonly selection: WorkloadSelection;
  readonly fields: ReadonlyMap<Field, InboundMtlsMode>;
}

const ACCEPTED: ConditionOutcome = { status: 'True', reason: 'Accepted', message: 'the policy is in force' };
const NO_CONFLICT: ConditionOutcome = { status: 'False', reason: 'NoConflict', message: 'no other policy of the same level sets the same fields for these workloads' };

function createdAt(v: unknown): number {
  const t = v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isFinite(t) ? t : Number.MAX_SAFE_INTEGER;
}

const byAgeThenName = (a: TlsEntry, b: TlsEntry): number => (a.created !== b.created ? a.created - b.created : a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function tlsMode(v: unknown): InboundMtlsMode | null {
  return v === 'Strict' ? 'strict' : v === 'Permissive' ? 'permissive' : null;
}

function tlsFields(p: MeshTLSPolicy): { fields: Map<Field, InboundMtlsMode>; problems: string[] } {
  const fields = new Map<Field, InboundMtlsMode>();
  const problems: string[] = [];
  const spec = p.spec ?? {};
  if (spec.mode !== undefined) {
    const m = tlsMode(spec.mode);
    if (m === null) problems.push('spec.mode: must be Permissive or Strict');
    else fields.set('mode', m);
  }
  if (spec.ports !== undefined && !Array.isArray(spec.ports)) problems.push('spec.ports: must be a list');
  else
    (spec.ports ?? []).forEach((x, i) => {
      const m = tlsMode(x?.mode);
      if (!Number.isInteger(x?.port) || x.port < 1 || x.port > 65535) problems.push(`spec.ports[${i}].port: must be a port 1-65535`);
      else if (m === null) problems.push(`spec.ports[${i}].mode: must be Permissive or Strict`);
      else if (fields.has(`port:${x.port}`)) problems.push(`spec.ports[${i}].port: port ${x.port} is listed twice`);
      else fields.set(`port:${x.port}`, m);
    });
  if (spec.ports !== undefined && Array.isArray(spec.ports) && spec.ports.length > 1024) problems.push('spec.ports: at most 1024 entries');
  if (problems.length === 0 && fields.size === 0) problems.push('spec: names a mode or ports');
  return { fields, problems };
}

export class InboundPolicies {
  readonly #authz: AuthzEntry[] = [];
  readonly #tls: TlsEntry[] = [];
  readonly #defaults: InboundDefaults;
  readonly #nsDefault = new Map<string, 'allow' | 'deny'>();
  readonly outcomes: PolicyOutcome[] = [];
  /** Problems of the policies themselves (for the debug endpoint and logs). */
  readonly problems: { readonly object: string; readonly message: string }[] = [];

  constructor(
    inputs: {
      readonly authorizationPolicies?: readonly AuthorizationPolicy[];
      readonly meshTlsPolicies?: readonly MeshTLSPolicy[];
      readonly services: readonly V1Service[];
      readonly namespaces: readonly V1Namespace[];
      readonly pods?: readonly V1Pod[];
    },
    defaults: InboundDefaults,
  ) {
    this.#defaults = defaults;
    const serviceByKey = new Map(inputs.services.map((s) => [`${s.metadata?.namespace}/${s.metadata?.name}`, s]));
    for (const n of inputs.namespaces) {
      const v = n.metadata?.annotations?.[AUTHORIZATION_DEFAULT_ANNOTATION];
      if (v === 'allow' || v === 'deny') this.#nsDefault.set(n.metadata!.name!, v);
      else if (v !== undefined) this.problems.push({ object: `Namespace ${n.metadata?.name}`, message: `${AUTHORIZATION_DEFAULT_ANNOTATION}: must be allow or deny (the default applies)` });
    }
    const sortedById = <T extends { metadata?: { namespace?: string; name?: string } }>(xs: readonly T[]): T[] =>
      [...xs].sort((a, b) => `${a.metadata?.namespace}/${a.metadata?.name}`.localeCompare(`${b.metadata?.namespace}/${b.metadata?.name}`));

    for (const p of sortedById(inputs.authorizationPolicies ?? [])) {
      const ns = p.metadata?.namespace ?? '';
      const base = { kind: 'AuthorizationPolicy' as const, namespace: ns, name: p.metadata?.name ?? '', generation: p.metadata?.generation ?? 0 };
      const sel = resolveSelection(ns, p.spec ?? {}, serviceByKey);
      const compiled = compileAuthorizationPolicy(p, defaults.trustDomain);
      if (!sel.ok) {
        this.outcomes.push({ ...base, accepted: { status: 'False', reason: sel.reason, message: sel.message } });
        this.problems.push({ object: `AuthorizationPolicy ${ns}/${base.name}`, message: sel.message });
        continue;
      }
      this.#authz.push({ selection: sel.selection, config: compiled.config });
      if (compiled.problems.length > 0) {
        const message = `the policy allows nothing to the workloads it selects until fixed: ${compiled.problems.join('; ')}`;
        this.outcomes.push({ ...base, accepted: { status: 'False', reason: 'Invalid', message } });
        this.problems.push({ object: `AuthorizationPolicy ${ns}/${base.name}`, message });
      } else this.outcomes.push({ ...base, accepted: ACCEPTED });
    }

    const tlsOutcomes = new Map<string, PolicyOutcome>();
    for (const p of sortedById(inputs.meshTlsPolicies ?? [])) {
      const ns = p.metadata?.namespace ?? '';
      const id = `${ns}/${p.metadata?.name ?? ''}`;
      const base = { kind: 'MeshTLSPolicy' as const, namespace: ns, name: p.metadata?.name ?? '', generation: p.metadata?.generation ?? 0 };
      const sel = resolveSelection(ns, p.spec ?? {}, serviceByKey);
      const { fields, problems } = tlsFields(p);
      if (!sel.ok || problems.length > 0) {
        // An invalid mTLS policy is left out as a whole: its workloads keep the less specific levels' modes.
        const message = sel.ok ? problems.join('; ') : sel.message;
        tlsOutcomes.set(id, { ...base, accepted: { status: 'False', reason: sel.ok ? 'Invalid' : sel.reason, message }, conflicted: NO_CONFLICT });
        this.problems.push({ object: `MeshTLSPolicy ${id}`, message });
        continue;
      }
      const level = sel.selection.level === 'workload' ? 'workload' : ns === defaults.meshNamespace ? 'mesh' : 'namespace';
      this.#tls.push({ id, created: createdAt(p.metadata?.creationTimestamp), level, selection: sel.selection, fields });
      tlsOutcomes.set(id, { ...base, accepted: ACCEPTED, conflicted: NO_CONFLICT });
    }
    this.#tls.sort(byAgeThenName);
    // Conflicts: policies of one level that set one field for one workload (namespace and mesh levels: by namespace; the
    // workload level: for some pod both select).
    const lost = new Map<string, Map<Field, string>>();
    const loses = (entries: readonly TlsEntry[]): void => {
      const winner = new Map<Field, string>();
      for (const e of entries)
        for (const f of e.fields.keys()) {
          const w = winner.get(f);
          if (w === undefined) winner.set(f, e.id);
          else {
            let m = lost.get(e.id);
            if (!m) lost.set(e.id, (m = new Map()));
            m.set(f, w);
          }
        }
    };
    const groups = new Map<string, TlsEntry[]>();
    for (const e of this.#tls) {
      if (e.level === 'workload') continue;
      const k = `${e.level}/${e.selection.namespace}`;
      groups.set(k, [...(groups.get(k) ?? []), e]);
    }
    for (const g of groups.values()) loses(g);
    const workloadEntries = this.#tls.filter((e) => e.level === 'workload');
    if (workloadEntries.length > 1) {
      for (const pod of inputs.pods ?? []) {
        const here = workloadEntries.filter((e) => selectsPod(e.selection, pod));
        if (here.length > 1) loses(here);
      }
    }
    for (const [id, m] of lost) {
      const prev = tlsOutcomes.get(id)!;
      const byWinner = new Map<string, string[]>();
      for (const [f, w] of m) byWinner.set(w, [...(byWinner.get(w) ?? []), f === 'mode' ? 'mode' : `port ${f.slice(5)}`]);
      const message = [...byWinner].map(([w, fs]) => `${fs.join(', ')} set by ${w}, which takes precedence (older, or same age and smaller name)`).join('; ');
      tlsOutcomes.set(id, { ...prev, conflicted: { status: 'True', reason: 'Conflicted', message } });
    }
    this.outcomes.push(...tlsOutcomes.values());
  }

  /** The inbound mTLS mode and authorization of one pod's sidecar. */
  forPod(pod: V1Pod): WorkloadInbound {
    const problems: string[] = [];
    const ns = pod.metadata?.namespace ?? '';
    // Authorization.
    const selecting = this.#authz.filter((a) => selectsPod(a.selection, pod)).map((a) => a.config);
    if (selecting.length > MAX_POLICIES_PER_WORKLOAD) problems.push(`${selecting.length} AuthorizationPolicies select this workload; only the first ${MAX_POLICIES_PER_WORKLOAD} (by name) are used`);
    const defaultAction = this.#nsDefault.get(ns) ?? this.#defaults.authorizationDefault;
    const authorization: AuthorizationConfig | null =
      selecting.length === 0 && defaultAction === 'allow' ? null : { defaultAction, policies: selecting.slice(0, MAX_POLICIES_PER_WORKLOAD) };
    // mTLS: field by field from the most specific level that sets it (entries are sorted by precedence within a level).
    const fields = new Map<Field, InboundMtlsMode>();
    for (const level of ['workload', 'namespace', 'mesh'] as const) {
      for (const e of this.#tls) {
        if (e.level !== level) continue;
        const applies = level === 'mesh' ? true : level === 'namespace' ? e.selection.namespace === ns : selectsPod(e.selection, pod);
        if (!applies) continue;
        for (const [f, m] of e.fields) if (!fields.has(f)) fields.set(f, m);
      }
    }
    const mode = fields.get('mode') ?? this.#defaults.mtlsMode;
    const ports = [...fields].filter(([f]) => f !== 'mode').map(([f, m]) => ({ port: Number(f.slice(5)), mode: m })).sort((a, b) => a.port - b.port);
    const hasIdentity = pod.metadata?.annotations?.[MESH_IDENTITY_ANNOTATION] === 'enabled';
    const anyStrict = mode === 'strict' || ports.some((p) => p.mode === 'strict');
    let mtls: InboundMtlsConfig | null = null;
    if (hasIdentity) mtls = { mode, ports };
    else if (anyStrict) {
      // Without a certificate the sidecar can complete no handshake: strict then refuses every caller, which is what
      // strict asks (never plain text), so it is kept, and said.
      mtls = { mode, ports };
      problems.push('strict mTLS applies, but the pod has no mesh identity (injected before the trust bundle existed?): its sidecar refuses every caller on strict ports');
    }
    return { mtls, authorization, problems };
  }
}
