// First start of the CA: use the Secret if there is one, else generate a root and create it; on a lost race, use the winner's.
//
// Two replicas starting together both find no Secret and both generate a root; the API server lets exactly one create
// succeed, and the other (409) reads the winner's back. An existing Secret is never overwritten, not even when invalid:
// that is the operator's to fix, and the control plane refuses to start with a clear reason instead.
import { err, ok, type Result } from '../../api/result.ts';
import { generateRootSecretData, loadCaMaterial, type CaMaterial, type CaSecretData } from './ca-material.ts';
import type { CaSecretStore } from './ca-secret-store.ts';
import { ControlPlaneError } from '../control-plane-error.ts';

export interface BootstrappedCa {
  readonly material: CaMaterial;
  /** resourceVersion of the Secret the material came from (for reloads). */
  readonly version: string;
  /** True when this replica generated the root and created the Secret. */
  readonly created: boolean;
}

export interface BootstrapOptions {
  readonly trustDomain: string;
  readonly now: () => number;
  /** Makes a new root's Secret data; tests count calls. */
  readonly generate?: (trustDomain: string, now: number) => CaSecretData;
}

function load(data: CaSecretData, version: string, created: boolean, now: number): Result<BootstrappedCa, ControlPlaneError> {
  const m = loadCaMaterial(data, now);
  if (!m.ok) return err(new ControlPlaneError('SKEIN_ERR_CP_CA_INVALID', `the CA Secret is not usable (it is left as it is): ${m.error.join('; ')}`));
  return ok({ material: m.value, version, created });
}

export async function bootstrapCa(store: CaSecretStore, opts: BootstrapOptions): Promise<Result<BootstrappedCa, ControlPlaneError>> {
  const generate = opts.generate ?? generateRootSecretData;
  // Bounded: a Secret created and deleted between our create and read (an operator racing us) costs one more round, not a loop.
  for (let attempt = 0; attempt < 3; attempt++) {
    const existing = await store.read();
    if (!existing.ok) return err(new ControlPlaneError('SKEIN_ERR_CP_CA_STORE', existing.error));
    if (existing.value) return load(existing.value.data, existing.value.version, false, opts.now());
    const data = generate(opts.trustDomain, opts.now());
    const created = await store.create(data);
    if (!created.ok) return err(new ControlPlaneError('SKEIN_ERR_CP_CA_STORE', created.error));
    if (created.value === 'created') {
      const back = await store.read();
      // Read back for the resourceVersion; what we created is what we use either way.
      return load(data, back.ok && back.value ? back.value.version : '', true, opts.now());
    }
  }
  return err(new ControlPlaneError('SKEIN_ERR_CP_CA_STORE', 'the CA Secret kept appearing and disappearing; giving up'));
}
