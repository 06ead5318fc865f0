// Resolves a container's environment as the kubelet does: env (value, fieldRef, resourceFieldRef, configMap/secret keys), envFrom,
// and $(VAR) references to earlier variables; the same expansion applies to command and args.
import type { V1Container, V1EnvVar, V1Pod } from '@kubernetes/client-node';
import type { Result } from '../../api/result.ts';
import { err, ok } from '../../api/result.ts';

export interface EnvContext {
  readonly pod: V1Pod;
  readonly podIp: string;
  readonly hostIp: string;
  readonly nodeName: string;
  /** Returns a ConfigMap's or Secret's data (Secret values already decoded), or undefined when it does not exist. */
  readonly lookup?: (kind: 'ConfigMap' | 'Secret', namespace: string, name: string) => Promise<Record<string, string> | undefined>;
}

/** Expands `$(NAME)` from env; `$$` is a literal `$`; an unknown reference stays as written (kubelet behaviour). */
export function expandVars(s: string, env: Readonly<Record<string, string>>): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '$' && s[i + 1] === '$') { out += '$'; i++; continue; }
    if (c === '$' && s[i + 1] === '(') {
      const close = s.indexOf(')', i + 2);
      if (close > 0) {
        const name = s.slice(i + 2, close);
        if (Object.hasOwn(env, name)) { out += env[name]; i = close; continue; }
        out += s.slice(i, close + 1); i = close; continue;
      }
    }
    out += c;
  }
  return out;
}

const LABEL_REF = /^metadata\.(labels|annotations)\['([^']+)'\]$/;

export function resolveFieldRef(fieldPath: string, ctx: Pick<EnvContext, 'pod' | 'podIp' | 'hostIp' | 'nodeName'>): Result<string, string> {
  const { pod } = ctx;
  switch (fieldPath) {
    case 'metadata.name': return ok(pod.metadata?.name ?? '');
    case 'metadata.namespace': return ok(pod.metadata?.namespace ?? 'default');
    case 'metadata.uid': return ok(pod.metadata?.uid ?? '');
    case 'spec.nodeName': return ok(pod.spec?.nodeName ?? ctx.nodeName);
    case 'spec.serviceAccountName': return ok(pod.spec?.serviceAccountName ?? 'default');
    case 'status.podIP': case 'status.podIPs': return ok(ctx.podIp);
    case 'status.hostIP': case 'status.hostIPs': return ok(ctx.hostIp);
  }
  const m = LABEL_REF.exec(fieldPath);
  if (m) {
    const map = m[1] === 'labels' ? pod.metadata?.labels : pod.metadata?.annotations;
    return ok(map?.[m[2]!] ?? '');
  }
  return err(`unsupported fieldRef ${fieldPath}`);
}

function parseQuantity(q: string | undefined): number | undefined {
  if (q === undefined) return undefined;
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(String(q));
  if (!m) return undefined;
  const n = Number(m[1]);
  const units: Record<string, number> = { '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };
  const u = units[m[2]!];
  return u === undefined ? undefined : n * u;
}

async function resolveOne(v: V1EnvVar, c: V1Container, ctx: EnvContext, env: Record<string, string>): Promise<Result<string | undefined, string>> {
  if (v.valueFrom === undefined) return ok(expandVars(v.value ?? '', env));
  const from = v.valueFrom;
  if (from.fieldRef) return resolveFieldRef(from.fieldRef.fieldPath, ctx);
  if (from.resourceFieldRef) {
    const r = from.resourceFieldRef;
    const [kind, res] = r.resource.split('.') as [string, string];
    const set = kind === 'limits' ? c.resources?.limits : c.resources?.requests;
    const raw = parseQuantity(set?.[res] as string | undefined);
    const divisor = parseQuantity(r.divisor as string | undefined) ?? 1;
    // Without a limit the kubelet reports node allocatable; we report 0 (documented) rather than inventing a number.
    return ok(String(raw === undefined ? 0 : Math.ceil(raw / divisor)));
  }
  const ns = ctx.pod.metadata?.namespace ?? 'default';
  const keyRef = from.configMapKeyRef ?? from.secretKeyRef;
  if (keyRef) {
    const kind = from.configMapKeyRef ? 'ConfigMap' : 'Secret';
    const data = ctx.lookup ? await ctx.lookup(kind, ns, keyRef.name ?? '') : undefined;
    const value = data?.[keyRef.key];
    if (value === undefined) return keyRef.optional ? ok(undefined) : err(`${kind} ${ns}/${keyRef.name} has no key ${keyRef.key}`);
    return ok(value);
  }
  return err(`env ${v.name}: unsupported valueFrom`);
}

/** The container's own environment, in the order the pod spec gives (envFrom first, then env, later wins). */
export async function resolveContainerEnv(c: V1Container, ctx: EnvContext): Promise<Result<Record<string, string>, string>> {
  const env: Record<string, string> = {};
  const ns = ctx.pod.metadata?.namespace ?? 'default';
  for (const src of c.envFrom ?? []) {
    const ref = src.configMapRef ?? src.secretRef;
    if (!ref) continue;
    const kind = src.configMapRef ? 'ConfigMap' : 'Secret';
    const data = ctx.lookup ? await ctx.lookup(kind, ns, ref.name ?? '') : undefined;
    if (data === undefined) {
      if (ref.optional) continue;
      return err(`${kind} ${ns}/${ref.name} not found`);
    }
    for (const [k, val] of Object.entries(data)) env[(src.prefix ?? '') + k] = val;
  }
  for (const v of c.env ?? []) {
    const r = await resolveOne(v, c, ctx, env);
    if (!r.ok) return r;
    if (r.value !== undefined) env[v.name] = r.value;
  }
  return ok(env);
}
