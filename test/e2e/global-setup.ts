// e2e global setup: builds what the e2e files need once (etcd, kube-*, Jaeger; installs Prometheus); cache hits are instant.
import { ensureJaegerBinary } from '../../local-cluster/addons/jaeger.ts';
import { ensurePrometheusBinary } from '../../local-cluster/addons/prometheus.ts';
import { ensureClusterBinaries } from '../../local-cluster/binaries.ts';

export default async function setup(): Promise<void> {
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  await ensureClusterBinaries(log);
  await ensureJaegerBinary(log);
  ensurePrometheusBinary(log);
}
