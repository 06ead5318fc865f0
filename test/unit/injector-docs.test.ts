// docs/injection.md documents every annotation the injector reads, with the defaults the code uses.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ANNOTATIONS } from '../../injector/annotations.ts';
import { DEFAULT_SIDECAR_RESOURCES } from '../../injector/mesh-settings.ts';

const doc = readFileSync(join(import.meta.dirname, '../../docs/injection.md'), 'utf8');

describe('docs/injection.md', () => {
  it('lists every annotation in its table', () => {
    for (const key of Object.values(ANNOTATIONS)) expect(doc).toContain(`| \`${key}\` |`);
  });
  it('states the default resources the code uses', () => {
    const row = (key: string) => doc.split('\n').find((l) => l.startsWith(`| \`${key}\` |`)) ?? '';
    expect(row(ANNOTATIONS.proxyCpu)).toContain(`\`${DEFAULT_SIDECAR_RESOURCES.cpuRequest}\``);
    expect(row(ANNOTATIONS.proxyMemory)).toContain(`\`${DEFAULT_SIDECAR_RESOURCES.memoryRequest}\``);
    expect(row(ANNOTATIONS.proxyCpuLimit)).toContain(`\`${DEFAULT_SIDECAR_RESOURCES.cpuLimit}\``);
    expect(row(ANNOTATIONS.proxyMemoryLimit)).toContain(`\`${DEFAULT_SIDECAR_RESOURCES.memoryLimit}\``);
  });
});
