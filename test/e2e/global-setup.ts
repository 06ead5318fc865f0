// e2e global setup: builds the cluster binaries (etcd, kube-*) once, before any e2e file starts a cluster; a cache hit is instant.
import { ensureClusterBinaries } from '../../local-cluster/binaries.ts';

export default async function setup(): Promise<void> {
  await ensureClusterBinaries((line) => process.stderr.write(`${line}\n`));
}
