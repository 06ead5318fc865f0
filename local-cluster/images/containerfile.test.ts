// The Containerfile (for Docker/Podman users) and the daemon-less build of the Skein image describe the same image: entrypoint,
// user, ports, environment, working dir, and the files (the app's folders, the tools, the users, the native helper, `skein`).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROXY_UID } from '../../api/mesh/mesh-constants.ts';
import { imageCacheDir } from './build-images.ts';
import { IMAGE_NATIVE_CACHE, REPO_ROOT, SKEIN_APP_PATHS, SKEIN_IMAGE_CONFIG, SKEIN_UID, skeinImageSpecs } from './skein-images.ts';

interface Instruction {
  readonly op: string;
  readonly args: string;
}

/** The instructions of each stage (continuation lines joined, comments dropped). */
export function parseContainerfile(text: string): Instruction[][] {
  const stages: Instruction[][] = [];
  const joined = text.replace(/\\\n/g, ' ');
  for (const raw of joined.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [op, ...rest] = line.split(/\s+/);
    const ins = { op: op!.toUpperCase(), args: rest.join(' ') };
    if (ins.op === 'FROM') stages.push([]);
    stages.at(-1)?.push(ins);
  }
  return stages;
}

const stages = parseContainerfile(readFileSync(join(REPO_ROOT, 'Containerfile'), 'utf8'));
const build = stages[0]!;
const final = stages.at(-1)!;
const all = (stage: Instruction[], op: string): string[] => stage.filter((i) => i.op === op).map((i) => i.args);
const last = (stage: Instruction[], op: string): string | undefined => all(stage, op).at(-1);

describe('Containerfile agrees with the daemon-less Skein image', () => {
  it('has the same entrypoint, user, working dir, ports and environment', () => {
    expect(JSON.parse(last(final, 'ENTRYPOINT')!)).toEqual(SKEIN_IMAGE_CONFIG.entrypoint);
    expect(last(final, 'USER')).toBe(SKEIN_IMAGE_CONFIG.user);
    expect(last(final, 'WORKDIR')).toBe(SKEIN_IMAGE_CONFIG.workingDir);
    expect(all(final, 'EXPOSE').flatMap((a) => a.split(/\s+/)).map(Number).sort()).toEqual([...SKEIN_IMAGE_CONFIG.exposedPorts!].sort());
    expect(all(final, 'ENV').sort()).toEqual([...SKEIN_IMAGE_CONFIG.env!].sort());
  });

  it('copies every app path the daemon-less image holds, and makes the same users, tools and links', () => {
    const copied = all(build, 'COPY').map((a) => a.split(/\s+/)[0]);
    for (const p of SKEIN_APP_PATHS) expect(copied).toContain(p);
    const run = [...all(build, 'RUN'), ...all(final, 'RUN')].join('\n');
    expect(run).toContain('ln -s /app/bin/skein.mjs /usr/local/bin/skein');
    expect(run).toContain(`useradd -u ${PROXY_UID} `);
    expect(run).toContain(`useradd -u ${SKEIN_UID} `);
    expect(run).toMatch(/apt-get install .*\biptables\b/);
    expect(run).toContain(`SKEIN_NATIVE_CACHE=${IMAGE_NATIVE_CACHE}`);
    expect(run).toContain('scripts/build-js.ts');
    expect(all(final, 'COPY')).toContain(`--from=build ${IMAGE_NATIVE_CACHE} ${IMAGE_NATIVE_CACHE}`);
  });

  it('the daemon-less image holds what the Containerfile promises', { timeout: 120_000 }, () => {
    const { skein } = skeinImageSpecs(imageCacheDir());
    const paths = new Set(skein.layers.flatMap((l) => l.entries().map((e) => e.path)));
    for (const p of SKEIN_APP_PATHS) expect(paths.has(`app/${p}`)).toBe(true);
    for (const p of ['usr/local/bin/node', 'usr/local/bin/skein', 'usr/sbin/iptables', 'usr/sbin/iptables-restore', 'bin/sh', 'usr/bin/env', 'etc/passwd', 'tmp', 'app/.cache/js/current.json']) {
      expect(paths.has(p), p).toBe(true);
    }
    expect([...paths].some((p) => p.startsWith(`${IMAGE_NATIVE_CACHE.slice(1)}/original-dst-`))).toBe(true);
    expect([...paths].filter((p) => p.endsWith('.test.ts') && !p.startsWith('app/node_modules/'))).toEqual([]);
    const passwd = skein.layers.flatMap((l) => l.entries()).find((e) => e.path === 'etc/passwd');
    expect(passwd?.kind === 'file' ? passwd.data.toString() : '').toContain(`:x:${PROXY_UID}:${PROXY_UID}:`);
    expect(skein.config).toEqual(SKEIN_IMAGE_CONFIG);
  });
});
