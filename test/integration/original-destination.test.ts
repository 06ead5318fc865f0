// SO_ORIGINAL_DST through the native addon, with a real iptables REDIRECT inside a network namespace this test creates.
import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ns = `skein-odst-${process.pid}`;
const root = new URL('../..', import.meta.url).pathname;

describe('original destination of a redirected connection', () => {
  beforeAll(() => {
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    // Locally generated TCP to port 9999 is redirected to 15999, where the probe script listens.
    execFileSync('ip', ['netns', 'exec', ns, 'iptables', '-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '--dport', '9999', '-j', 'REDIRECT', '--to-ports', '15999']);
  });
  afterAll(() => {
    spawnSync('ip', ['netns', 'delete', ns]);
  });

  it('reports the pre-REDIRECT address and port, and null for a direct connection', () => {
    const script = `
      import net from 'node:net';
      import { originalDestination } from ${JSON.stringify(root + 'proxy/native/original-destination.ts')};
      const results = [];
      const server = net.createServer((c) => {
        results.push(originalDestination(c));
        c.destroy();
        if (results.length === 2) { console.log(JSON.stringify(results)); server.close(); }
      });
      server.listen(15999, '127.0.0.1', () => {
        net.connect(9999, '127.0.0.1').on('error', () => {}).on('close', () => net.connect(15999, '127.0.0.1').on('error', () => {}));
      });`;
    const out = execFileSync('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(JSON.parse(out.trim())).toEqual([{ address: '127.0.0.1', port: 9999 }, null]);
  });
});
