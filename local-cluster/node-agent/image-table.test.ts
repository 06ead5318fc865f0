// Unit tests for the image -> local entrypoint table.
import { describe, expect, it } from 'vitest';
import { resolveProcess, lookupImage } from './image-table.ts';
import { SKEIN_IMAGE } from '../../api/mesh/mesh-constants.ts';

const opts = { repoRoot: '/r', node: '/n' };

describe('image table', () => {
  it('runs the Skein image as this checkout\'s CLI with args appended', () => {
    const r = resolveProcess(SKEIN_IMAGE, undefined, ['proxy', '--sidecar'], opts);
    expect(r).toEqual({ ok: true, value: { env: { SKEIN_NATIVE_CACHE: '/var/cache/skein/native' }, argv: ['/n', '/r/bin/skein.mjs', 'proxy', '--sidecar'], workingDir: '/r' } });
    const aliased = resolveProcess('skein.dev/skein:dev', ['skein', 'control-plane'], ['--port', '1'], opts);
    expect(aliased.ok && aliased.value.argv).toEqual(['/n', '/r/bin/skein.mjs', 'control-plane', '--port', '1']);
  });

  it('runs a shell command from the Skein image on the host', () => {
    const r = resolveProcess(SKEIN_IMAGE, ['sh', '-c', 'iptables -L'], undefined, opts);
    expect(r.ok && r.value.argv).toEqual(['sh', '-c', 'iptables -L']);
  });

  it('maps example images to examples/<name>/main.ts', () => {
    const r = resolveProcess('skein.dev/example-echo:1.0', undefined, undefined, opts);
    expect(r).toEqual({ ok: true, value: { env: {}, argv: ['/n', '/r/examples/echo/main.ts'], workingDir: '/r/examples/echo' } });
    expect(lookupImage('skein.dev/example-../etc:1', opts)).toBeUndefined();
  });

  it('gives shell images sh as CMD and accepts registries, tags and digests', () => {
    expect(resolveProcess('busybox', undefined, undefined, opts)).toEqual({ ok: true, value: { env: {}, argv: ['sh'], workingDir: '/' } });
    const r = resolveProcess('docker.io/library/alpine:3.20@sha256:abc', ['sh', '-c', 'echo hi'], undefined, opts);
    expect(r.ok && r.value.argv).toEqual(['sh', '-c', 'echo hi']);
    expect(resolveProcess('localhost:5000/busybox', ['sleep'], ['5'], opts).ok).toBe(true);
  });

  it('rejects images it does not know', () => {
    const r = resolveProcess('nginx:1.27', undefined, undefined, opts);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(/not in the node agent's image table/);
  });
});
