// `skein init-iptables` and `skein wait-ready`: the two commands the injected containers run.
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CliError } from '../cli-error.ts';
import { scriptFromOptions } from './init-iptables.ts';
import { waitReady } from './wait-ready.ts';

const base = { proxyUid: '2102', inboundPort: '15006', outboundPort: '15001', excludeInboundPorts: '', excludeOutboundPorts: '', excludeOutboundCidrs: '' };

describe('skein init-iptables', () => {
  it('--dry-run prints the script built from the flags the injector wrote', () => {
    const bin = join(import.meta.dirname, '../../bin/skein.mjs');
    const r = spawnSync(process.execPath, [bin, 'init-iptables', '--dry-run', '--proxy-uid', '2102', '--inbound-port', '15006', '--outbound-port', '15001', '--exclude-outbound-cidrs', '10.0.0.0/8'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('iptables -w -t nat -A SKEIN_OUTPUT -d 10.0.0.0/8 -j RETURN');
  });
  it('refuses bad flags before touching anything', () => {
    expect(() => scriptFromOptions({ ...base, excludeOutboundCidrs: '10.0.0.0/8; reboot' })).toThrow(CliError);
    expect(() => scriptFromOptions({ ...base, proxyUid: 'root' })).toThrow(CliError);
    expect(scriptFromOptions({ ...base, clean: true })).toContain('-X SKEIN_OUTPUT');
  });
});

describe('skein wait-ready', () => {
  it('returns once the URL answers 2xx', async () => {
    let calls = 0;
    const server = createServer((_req, res) => {
      calls++;
      res.writeHead(calls >= 3 ? 200 : 503).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ready`;
    await waitReady(url, 5000, 20);
    server.close();
    expect(calls).toBe(3);
  });
  it('fails with the last reason after the timeout', async () => {
    await expect(waitReady('http://127.0.0.1:1/ready', 300, 50)).rejects.toThrow(/not ready after 300 ms/);
  });
});
