// e2e global setup: builds what the e2e files need once (etcd, kube-*, kubelet, Jaeger; installs Prometheus, containerd); cache hits are instant.
import { ensureJaegerBinary } from '../../local-cluster/addons/jaeger.ts';
import { ensurePrometheusBinary } from '../../local-cluster/addons/prometheus.ts';
import { ensureClusterBinaries, ensureNodeBinaries } from '../../local-cluster/binaries.ts';

export default async function setup(): Promise<void> {
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  await ensureClusterBinaries(log);
  // The real node's: kubelet, kube-proxy, kubectl (same build, same cache) and containerd, runc, the CNI plugins (Debian).
  await ensureNodeBinaries(log);
  await ensureJaegerBinary(log);
  ensurePrometheusBinary(log);
}
