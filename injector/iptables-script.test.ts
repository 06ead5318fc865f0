// The interception script: its rules, its idempotence, and (as root, in a throwaway network namespace) what it really redirects.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultInterceptionRules, generateIptablesCleanupScript, generateIptablesScript, interceptionRulesToArgs } from './iptables-script.ts';
import { parseCidrList, parsePortList } from './port-list.ts';

const ports = (t: string) => { const r = parsePortList(t); if (!r.ok) throw new Error(r.error); return r.value; };
const cidrs = (t: string) => { const r = parseCidrList(t); if (!r.ok) throw new Error(r.error); return r.value; };

const rules = defaultInterceptionRules({
  excludeInboundPorts: ports('9090,8000-8010'),
  excludeOutboundPorts: ports('5432'),
  excludeOutboundCidrs: cidrs('10.99.1.0/24,fd00::/8'),
});

describe('generateIptablesScript', () => {
  const script = generateIptablesScript(rules);
  it('redirects inbound to 15006 and outbound to 15001 in SKEIN_* chains', () => {
    expect(script).toContain('iptables -w -t nat -A SKEIN_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006');
    expect(script).toContain('iptables -w -t nat -A SKEIN_OUT_REDIRECT -p tcp -j REDIRECT --to-ports 15001');
  });
  it('leaves alone the proxy UID, loopback, admin/health ports and the exclusions', () => {
    for (const line of [
      '-A SKEIN_OUTPUT -o lo ! -d 127.0.0.0/8 -m owner --uid-owner 2102 -j SKEIN_INBOUND\n' + 'iptables -w -t nat -A SKEIN_OUTPUT -m owner --uid-owner 2102 -j RETURN',
      '-A SKEIN_OUTPUT -o lo ! -d ::1/128 -m owner --uid-owner 2102 -j SKEIN_INBOUND',
      '-A SKEIN_OUTPUT -d 127.0.0.0/8 -j RETURN',
      '-A SKEIN_OUTPUT -d ::1/128 -j RETURN',
      '-A SKEIN_INBOUND -p tcp --dport 15000 -j RETURN',
      '-A SKEIN_INBOUND -p tcp --dport 15020 -j RETURN',
      '-A SKEIN_INBOUND -p tcp --dport 9090 -j RETURN',
      '-A SKEIN_INBOUND -p tcp --dport 8000:8010 -j RETURN',
      '-A SKEIN_OUTPUT -p tcp --dport 5432 -j RETURN',
      'iptables -w -t nat -A SKEIN_OUTPUT -d 10.99.1.0/24 -j RETURN',
      'ip6tables -w -t nat -A SKEIN_OUTPUT -d fd00::/8 -j RETURN',
    ]) expect(script).toContain(line);
    // CIDRs go only to their own family.
    expect(script).not.toContain('ip6tables -w -t nat -A SKEIN_OUTPUT -d 10.99.1.0/24');
    expect(script).not.toMatch(/^iptables .*fd00::/m);
  });
  it('round-trips through the init container args', () => {
    expect(interceptionRulesToArgs(rules)).toEqual([
      '--proxy-uid', '2102', '--inbound-port', '15006', '--outbound-port', '15001',
      '--exclude-inbound-ports', '9090,8000:8010', '--exclude-outbound-ports', '5432', '--exclude-outbound-cidrs', '10.99.1.0/24,fd00::/8',
    ]);
  });
});

function canUseNetns(): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  for (const bin of ['ip', 'iptables', 'setpriv']) {
    if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) return `${bin} not installed`;
  }
  return null;
}
const netnsUnavailable = canUseNetns();

// Runs in the namespace: listeners standing in for the proxy and for real destinations, then connections that report
// which listener answered.
const probeProgram = `
import net from 'node:net';
const tags = { 15001: 'outbound-proxy', 15006: 'inbound-proxy', 80: 'port-80', 5432: 'port-5432', 9090: 'port-9090' };
const [mode, host, port] = process.argv.slice(2);
if (mode === 'serve') {
  for (const [p, tag] of Object.entries(tags)) net.createServer((s) => s.end(tag)).listen(Number(p), '0.0.0.0');
  setTimeout(() => process.exit(0), 15000);
  process.stdout.write('ready\\n');
} else {
  const s = net.connect(Number(port), host);
  let out = '';
  s.on('data', (d) => (out += d));
  s.on('end', () => { process.stdout.write(out); process.exit(0); });
  s.on('error', (e) => { process.stdout.write('error:' + e.code); process.exit(0); });
}
`;

describe.skipIf(netnsUnavailable !== null)(`interception in a network namespace${netnsUnavailable ? ` (skipped: ${netnsUnavailable})` : ''}`, () => {
  const ns = `skeint-${process.pid}`;
  const work = mkdtempSync(join(tmpdir(), 'skein-ipt-'));
  const inNs = (...cmd: string[]) => execFileSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8' });
  let server: ReturnType<typeof import('node:child_process').spawn> | undefined;

  beforeAll(async () => {
    execFileSync('ip', ['netns', 'add', ns]);
    inNs('ip', 'link', 'set', 'lo', 'up');
    // Non-loopback addresses on lo: "remote" destinations without needing a second namespace.
    inNs('ip', 'addr', 'add', '10.99.0.1/24', 'dev', 'lo');
    inNs('ip', 'addr', 'add', '10.99.1.1/24', 'dev', 'lo');
    chmodSync(work, 0o755); // the UID-2102 client must read the probe program
    writeFileSync(join(work, 'probe.mjs'), probeProgram);
    writeFileSync(join(work, 'rules.sh'), generateIptablesScript(rules));
    const { spawn } = await import('node:child_process');
    server = spawn('ip', ['netns', 'exec', ns, process.execPath, join(work, 'probe.mjs'), 'serve'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      server!.stdout!.once('data', () => resolve());
      server!.once('exit', (code) => reject(new Error(`probe server exited ${code}`)));
    });
  });
  afterAll(() => {
    server?.kill();
    spawnSync('ip', ['netns', 'del', ns]);
    rmSync(work, { recursive: true, force: true });
  });

  const connect = (host: string, port: number, uid?: number) => {
    const node = [process.execPath, join(work, 'probe.mjs'), 'connect', host, String(port)];
    const cmd = uid === undefined ? node : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...node];
    return inNs(...cmd);
  };

  it('installs idempotently: a second run leaves the same rules and one jump per hook', () => {
    inNs('sh', join(work, 'rules.sh'));
    const first = inNs('iptables-save', '-t', 'nat').replace(/^[#:].*$/gm, '');
    inNs('sh', join(work, 'rules.sh'));
    const second = inNs('iptables-save', '-t', 'nat').replace(/^[#:].*$/gm, '');
    expect(second).toBe(first);
    expect(second.match(/-A PREROUTING -p tcp -j SKEIN_INBOUND/g)).toHaveLength(1);
    expect(second.match(/-A OUTPUT -p tcp -j SKEIN_OUTPUT/g)).toHaveLength(1);
  });
  it('redirects outbound TCP to the proxy, but not loopback, excluded ports/CIDRs or the proxy UID', () => {
    expect(connect('10.99.0.1', 80)).toBe('outbound-proxy');
    expect(connect('127.0.0.1', 80)).toBe('port-80');
    expect(connect('10.99.0.1', 5432)).toBe('port-5432');
    expect(connect('10.99.1.1', 80)).toBe('port-80');
    expect(connect('127.0.0.1', 80, 2102)).toBe('port-80');
    expect(connect('10.99.0.1', 80, 2103)).toBe('outbound-proxy');
  });
  it("sends the proxy's own connections to the pod's own address to the inbound proxy (a pod calling itself), except excluded inbound ports", () => {
    // 10.99.0.1 is an address of this namespace (on lo): to the proxy, it is the pod's own IP.
    expect(connect('10.99.0.1', 80, 2102)).toBe('inbound-proxy');
    expect(connect('10.99.0.1', 9090, 2102)).toBe('port-9090');
  });
  it('the cleanup script removes every SKEIN chain', () => {
    writeFileSync(join(work, 'clean.sh'), generateIptablesCleanupScript());
    inNs('sh', join(work, 'clean.sh'));
    expect(inNs('iptables-save', '-t', 'nat')).not.toContain('SKEIN');
    expect(connect('10.99.0.1', 80)).toBe('port-80');
  });
});
