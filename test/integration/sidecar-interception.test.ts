// A sidecar in a pod-like network namespace with the injector's iptables rules: the app's inbound and outbound HTTP really
// go through `skein proxy --sidecar` (seen in its metrics) while the app itself is unchanged.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asProxyUid } from '../support/proxy-uid.ts';
import { defaultInterceptionRules, generateIptablesScript } from '../../injector/iptables-script.ts';

const tag = `${process.pid % 10000}`;
const podNs = `skein-sc-pod-${tag}`;
const peerNs = `skein-sc-peer-${tag}`;
const podIp = '10.250.77.2';
const peerIp = '10.250.77.3';
const root = new URL('../..', import.meta.url).pathname;
const children: ChildProcess[] = [];

function nsExec(ns: string, args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8', timeout: 20_000 });
}

function startIn(ns: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn('ip', ['netns', 'exec', ns, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.push(child);
  return child;
}

const server = (port: number, name: string) =>
  `require('http').createServer((q, s) => s.end('${name} saw ' + q.url)).listen(${port}, '0.0.0.0')`;

/** curl-free HTTP GET run inside a namespace (optionally as the proxy's UID); polls until `deadline` for listeners to come up. */
function httpGetIn(ns: string, url: string, deadlineMs = 15_000): string {
  const script = `const t=Date.now();const go=()=>require('http').get(${JSON.stringify(url)},r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>{console.log(r.statusCode+' '+b)})}).on('error',e=>{if(Date.now()-t<${deadlineMs})setTimeout(go,50);else{console.log('ERR '+e.code)}});go();`;
  return nsExec(ns, [process.execPath, '-e', script]).trim();
}

describe('sidecar interception (netns + iptables from the injector)', () => {
  beforeAll(() => {
    execFileSync('ip', ['netns', 'add', podNs]);
    execFileSync('ip', ['netns', 'add', peerNs]);
    execFileSync('ip', ['link', 'add', `skp${tag}`, 'netns', podNs, 'type', 'veth', 'peer', 'name', `skq${tag}`, 'netns', peerNs]);
    for (const [ns, dev, ip] of [[podNs, `skp${tag}`, podIp], [peerNs, `skq${tag}`, peerIp]] as const) {
      execFileSync('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', dev]);
      execFileSync('ip', ['-n', ns, 'link', 'set', dev, 'up']);
      execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    nsExec(podNs, ['sh', '-c', generateIptablesScript(defaultInterceptionRules())]);
    // The app (unchanged, runs as root) and a peer service outside the pod.
    startIn(podNs, [process.execPath, '-e', server(8080, 'app')]);
    startIn(peerNs, [process.execPath, '-e', server(9090, 'peer')]);
    // The sidecar, as the proxy UID the rules exempt.
    startIn(podNs, [...asProxyUid(), process.execPath, `${root}bin/skein.mjs`, 'proxy', '--sidecar'], {
      SKEIN_POD_NAME: 'app-pod',
      SKEIN_POD_NAMESPACE: 'test',
      SKEIN_APP_PROBES: JSON.stringify({ '/app-health/app/readyz': { httpGet: { path: '/healthz', port: 8080 } } }),
      SKEIN_NATIVE_CACHE: `/tmp/skein-native-${tag}`,
    });
  });
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
    spawnSync('ip', ['netns', 'delete', podNs]);
    spawnSync('ip', ['netns', 'delete', peerNs]);
  });

  it('routes inbound traffic to the app through the proxy', () => {
    // The verdict, then the config it serves: no control plane in this test, so the bootstrap.
    expect(httpGetIn(podNs, 'http://127.0.0.1:15000/ready')).toBe('200 ready\nconfig bootstrap');
    expect(httpGetIn(peerNs, `http://${podIp}:8080/from-peer`)).toBe('200 app saw /from-peer');
  });

  it('routes the app outbound traffic through the proxy to its original destination', () => {
    expect(httpGetIn(podNs, `http://${peerIp}:9090/from-app`)).toBe('200 peer saw /from-app');
  });

  it('shows both directions in the proxy metrics, and answers the rewritten kubelet probe', () => {
    const metrics = httpGetIn(podNs, 'http://127.0.0.1:15000/metrics');
    expect(metrics).toMatch(/skein_requests_total\{listener="inbound",direction="inbound",route="inbound-app",cluster="inbound-app",code="200",grpc_status="",mtls="false",[^}]*\} [1-9]/);
    expect(metrics).toMatch(/skein_requests_total\{listener="outbound",direction="outbound",route="outbound-passthrough",cluster="outbound-passthrough",code="200",grpc_status="",mtls="false",[^}]*\} [1-9]/);
    expect(httpGetIn(peerNs, `http://${podIp}:15020/app-health/app/readyz`)).toBe('200 app answered 200');
  });
});
