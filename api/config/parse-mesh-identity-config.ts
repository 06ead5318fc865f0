// Turns the (schema-valid) mesh-identity parts of a config document into their typed form, collecting every problem.
import { parseSpiffeId } from '../proto/identity.ts';
import type { AuthorizationConfig, AuthorizationPolicyConfig, InboundMtlsConfig, MeshTlsConfig } from './mesh-identity-config.ts';

interface Problem {
  readonly path: string;
  readonly message: string;
}

/** Checks that `id` is exactly a Skein workload SPIFFE id; returns it, or null after recording the problem. */
export function checkSpiffeId(id: string, path: string, problems: Problem[]): string | null {
  if (parseSpiffeId(id) !== null) return id;
  problems.push({ path, message: 'must be a SPIFFE id spiffe://<trust-domain>/ns/<namespace>/sa/<serviceaccount>' });
  return null;
}

export function parseMeshTls(input: unknown, path: string, problems: Problem[]): MeshTlsConfig | null {
  if (input === undefined || input === null) return null;
  const m = input as { identity?: string };
  return { identity: m.identity === undefined ? null : checkSpiffeId(m.identity, `${path}.identity`, problems) };
}

type InMtls = { mode?: 'permissive' | 'strict'; ports?: { port?: number; mode?: 'permissive' | 'strict' }[] };

export function parseInboundMtls(input: unknown, path: string, direction: string, problems: Problem[]): InboundMtlsConfig | null {
  if (input === undefined || input === null) return null;
  const m = input as InMtls;
  if (direction !== 'inbound') problems.push({ path, message: 'mTLS termination with the workload certificate is for inbound listeners' });
  const seen = new Set<number>();
  const ports = (m.ports ?? []).map((p, i) => {
    if (seen.has(p.port!)) problems.push({ path: `${path}.ports[${i}].port`, message: `port ${p.port} is listed twice` });
    seen.add(p.port!);
    return { port: p.port!, mode: p.mode! };
  });
  return { mode: m.mode!, ports };
}

type InAuthz = {
  defaultAction?: 'allow' | 'deny';
  policies?: {
    name?: string;
    rules?: {
      from?: { identities?: string[]; namespaces?: string[]; unauthenticated?: boolean }[];
      to?: { ports?: number[]; paths?: { type?: 'exact' | 'prefix'; value?: string }[]; methods?: string[] }[];
    }[];
  }[];
};

export function parseAuthorization(input: unknown, path: string, direction: string, problems: Problem[]): AuthorizationConfig | null {
  if (input === undefined || input === null) return null;
  const a = input as InAuthz;
  if (direction === 'outbound') problems.push({ path, message: 'authorization applies to inbound (and ingress) listeners' });
  const policies: AuthorizationPolicyConfig[] = (a.policies ?? []).map((p, pi) => ({
    name: p.name!,
    rules: (p.rules ?? []).map((r, ri) => {
      const at = `${path}.policies[${pi}].rules[${ri}]`;
      return {
        from: (r.from ?? []).map((f, fi) => {
          const identities = f.identities ?? [];
          identities.forEach((id, ii) => {
            if (id !== '*') checkSpiffeId(id, `${at}.from[${fi}].identities[${ii}]`, problems);
          });
          const unauthenticated = f.unauthenticated ?? false;
          if (unauthenticated && (identities.length > 0 || (f.namespaces ?? []).length > 0)) {
            // A caller cannot be both unverified and have a verified identity: such a source would never match.
            problems.push({ path: `${at}.from[${fi}]`, message: 'unauthenticated cannot be combined with identities or namespaces' });
          }
          return { identities, namespaces: f.namespaces ?? [], unauthenticated };
        }),
        to: (r.to ?? []).map((t) => ({
          ports: t.ports ?? [],
          paths: (t.paths ?? []).map((x) => ({ type: x.type!, value: x.value! })),
          methods: (t.methods ?? []).map((x) => x.toUpperCase()),
        })),
      };
    }),
  }));
  return { defaultAction: a.defaultAction ?? 'allow', policies };
}
