// The cluster DNS addon: the Corefile uses only plugins build-coredns.sh compiles in, and the Service sits where the kubelet points pods.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SERVICE_CIDR } from '../cluster.ts';
import { CLUSTER_DNS_IP, clusterDnsManifests, corefile } from './cluster-dns.ts';

type Obj = Record<string, any>;

/** The directive a plugin package registers, where the two names differ. */
const DIRECTIVE_OF: Readonly<Record<string, string>> = { metrics: 'prometheus' };

describe('cluster DNS addon', () => {
  it('every Corefile directive has its plugin compiled in by build-coredns.sh', () => {
    const script = readFileSync(join(import.meta.dirname, 'build-coredns.sh'), 'utf8');
    const plugins = /^plugins="([^"]+)"/m.exec(script)![1]!.split(' ');
    const compiled = new Set(plugins.map((p) => DIRECTIVE_OF[p] ?? p));
    const directives = corefile()
      .split('\n')
      .map((l) => /^ {4}([a-z_0-9]+)/.exec(l)?.[1])
      .filter((d): d is string => d !== undefined);
    expect(directives.length).toBeGreaterThan(5);
    expect(directives.filter((d) => !compiled.has(d))).toEqual([]);
  });

  it('kube-dns is a ClusterIP Service at the cluster DNS IP, inside the service range, for UDP and TCP 53', () => {
    const objects = clusterDnsManifests('skein.dev/coredns:test') as Obj[];
    const svc = objects.find((o) => o.kind === 'Service')!;
    expect(svc.metadata).toMatchObject({ name: 'kube-dns', namespace: 'kube-system' });
    expect(svc.spec.clusterIP).toBe(CLUSTER_DNS_IP);
    const [net, bits] = SERVICE_CIDR.split('/') as [string, string];
    const toInt = (ip: string): number => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
    const mask = 2 ** 32 - 2 ** (32 - Number(bits));
    expect((toInt(CLUSTER_DNS_IP) & mask) >>> 0).toBe(toInt(net));
    expect(svc.spec.ports.map((p: Obj) => `${p.protocol}/${p.port}`)).toEqual(expect.arrayContaining(['UDP/53', 'TCP/53']));
    const deploy = objects.find((o) => o.kind === 'Deployment')!;
    expect(deploy.spec.template.metadata.labels).toEqual(svc.spec.selector);
    // CoreDNS must not be its own upstream.
    expect(deploy.spec.template.spec.dnsPolicy).toBe('Default');
    expect(deploy.spec.template.spec.containers[0].image).toBe('skein.dev/coredns:test');
  });
});
