// A workload identity read from files (skein proxy --workload-identity): a good one is used as Certify's would be, and a
// missing file, a key for another certificate or a certificate without its SPIFFE id is refused with the reason.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spiffeId } from '../../api/proto/identity.ts';
import { fileWorkloadIdentity, WORKLOAD_IDENTITY_FILES } from '../../proxy/identity/file-workload-identity.ts';
import { TestCa } from '../support/mesh-identity-fixture.ts';

const WEB = spiffeId('cluster.local', 'demo', 'web');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function identityDir(files: Partial<Record<keyof typeof WORKLOAD_IDENTITY_FILES, string>>): string {
  const dir = mkdtempSync(join(tmpdir(), 'skein-workload-identity-'));
  dirs.push(dir);
  for (const [k, v] of Object.entries(files)) writeFileSync(join(dir, WORKLOAD_IDENTITY_FILES[k as keyof typeof WORKLOAD_IDENTITY_FILES]), v);
  return dir;
}

describe('fileWorkloadIdentity', () => {
  const ca = new TestCa();
  const leaf = ca.issueWithKey(WEB);

  it('uses a certificate for our key that names one SPIFFE id and chains to the bundle', () => {
    const id = fileWorkloadIdentity(identityDir({ key: leaf.keyPem, chain: leaf.certPem, bundle: ca.bundlePem }), Date.now());
    if (typeof id === 'string') throw new Error(id);
    expect(id.current()?.identity).toBe(WEB);
    expect(id.notReadyReason()).toBeNull();
  });

  it('refuses a missing file, a key of another certificate, and a bundle it does not chain to, naming why', () => {
    expect(fileWorkloadIdentity(identityDir({ key: leaf.keyPem, chain: leaf.certPem }), Date.now())).toMatch(/cannot read the workload identity .*ENOENT/);
    const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(fileWorkloadIdentity(identityDir({ key: otherKey, chain: leaf.certPem, bundle: ca.bundlePem }), Date.now())).toMatch(/not usable: the certificate is not for our key/);
    expect(fileWorkloadIdentity(identityDir({ key: leaf.keyPem, chain: leaf.certPem, bundle: new TestCa().bundlePem }), Date.now())).toMatch(/not usable: .*root/);
  });
});
