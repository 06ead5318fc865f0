// Edge policies attached to a Gateway or an HTTPRoute / GRPCRoute by annotation: `skein.dev/edge-policy` holds a JSON
// object with the proxy's own edge-policy fields (ipFilter, cors, jwt, extAuthz; docs/ingress.md) plus `rateLimit`, and
// on a Gateway `xffTrustedHops`. Validated by the proxy's config schema itself, every problem at once (pure).
import { err, ok, type Result } from '../../api/result.ts';
import type { EdgePolicyConfig } from '../../api/config/edge-policy-config.ts';
import type { LocalRateLimitConfig } from '../../api/config/policy-config.ts';
import { parseProxyConfig } from '../../api/config/parse-proxy-config.ts';

export const EDGE_POLICY_ANNOTATION = 'skein.dev/edge-policy';

export interface EdgeAttachment {
  readonly edge: EdgePolicyConfig | null;
  readonly rateLimit: LocalRateLimitConfig | null;
  /** Gateways only: trusted x-forwarded-for hops in front of the ingress. */
  readonly xffTrustedHops: number;
}

export const NO_ATTACHMENT: EdgeAttachment = { edge: null, rateLimit: null, xffTrustedHops: 0 };

/** The annotation of an object (absent: nothing attached), or every problem with it as one message. */
export function parseEdgeAnnotation(annotations: Readonly<Record<string, string>> | undefined, onGateway: boolean): Result<EdgeAttachment, string> {
  const text = annotations?.[EDGE_POLICY_ANNOTATION];
  if (text === undefined || text.trim() === '') return ok(NO_ATTACHMENT);
  if (text.length > 65_536) return err(`${EDGE_POLICY_ANNOTATION}: longer than 64 KiB`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return err(`${EDGE_POLICY_ANNOTATION}: not JSON (${(e as Error).message})`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return err(`${EDGE_POLICY_ANNOTATION}: must be a JSON object`);
  const { rateLimit, xffTrustedHops, ...edge } = doc as Record<string, unknown>;
  if (!onGateway && xffTrustedHops !== undefined) return err(`${EDGE_POLICY_ANNOTATION}: xffTrustedHops belongs on the Gateway`);
  // Placed where it sits in a proxy config: the schema and the semantic checks are the proxy's own.
  const listener: Record<string, unknown> = { name: 'annotation', port: 1, edge };
  if (rateLimit !== undefined) listener.rateLimit = rateLimit;
  if (xffTrustedHops !== undefined) listener.xffTrustedHops = xffTrustedHops;
  const parsed = parseProxyConfig({ mode: 'ingress', listeners: [listener] });
  if (!parsed.ok) {
    const msg = parsed.error.map((p) => `${p.path.replace(/^listeners\[0\]\.(edge\.)?/, '')}: ${p.message}`).join('; ');
    return err(`${EDGE_POLICY_ANNOTATION}: ${msg}`);
  }
  const l = parsed.value.listeners[0]!;
  return ok({ edge: Object.keys(edge).length > 0 ? (l.edge ?? null) : null, rateLimit: l.rateLimit, xffTrustedHops: l.xffTrustedHops ?? 0 });
}
