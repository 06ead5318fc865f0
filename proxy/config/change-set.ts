// What the proxy's one config entry point takes and answers: a change set (upserts + removals of named, versioned
// resources) applied whole, or refused whole with every reason.
import type { NackReason, ResourceRef } from '../../api/proto/config-discovery.ts';

/** One resource of a change set; `body` is untrusted (the proxy validates it). */
export interface ResourceUpdate {
  readonly type: string;
  readonly name: string;
  readonly version: string;
  readonly body: unknown;
}

export interface ChangeSet {
  /** Version of the whole resource set after this change (the control plane's push version, or the file's hash). */
  readonly version: string;
  readonly upserts: readonly ResourceUpdate[];
  readonly removals: readonly ResourceRef[];
}

export type ApplyOutcome = { readonly ok: true } | { readonly ok: false; readonly reasons: readonly NackReason[] };

/** The proxy's one entry point for config changes. It never throws; a refused change leaves nothing applied. */
export type ApplyChangeSet = (changes: ChangeSet) => ApplyOutcome | Promise<ApplyOutcome>;
