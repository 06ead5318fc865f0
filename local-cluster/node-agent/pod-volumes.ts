// Materializes a pod's volumes in a per-pod directory on the host and plans the bind mounts that make each one appear at its
// mountPath inside the container's private mount namespace. Supports projected (serviceAccountToken via the TokenRequest API,
// configMap, secret, downwardAPI), configMap, secret, downwardAPI, emptyDir and hostPath volumes.
import { chmodSync, chownSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import type { V1Container, V1DownwardAPIVolumeFile, V1KeyToPath, V1Pod, V1Volume } from '@kubernetes/client-node';
import { resolveFieldRef } from './container-env.ts';
import type { VolumeMountPlan } from './container-process.ts';
import { NodeAgentError } from './node-agent-error.ts';

export interface ClusterReader {
  configMap(namespace: string, name: string): Promise<Record<string, Buffer> | undefined>;
  secret(namespace: string, name: string): Promise<Record<string, Buffer> | undefined>;
  /** TokenRequest for the pod's ServiceAccount, bound to the pod; resolves to the token and its lifetime in seconds. */
  requestToken(req: { namespace: string; serviceAccount: string; audience: string | undefined; expirationSeconds: number; podName: string; podUid: string }): Promise<{ token: string; ttlSeconds: number }>;
}

export interface VolumeContext {
  readonly podIp: string;
  readonly hostIp: string;
  readonly nodeName: string;
}

interface TokenFile {
  readonly path: string;
  readonly audience: string | undefined;
  readonly expirationSeconds: number;
  readonly mode: number;
}

const DEFAULT_MODE = 0o644;

function safeJoin(root: string, rel: string): string {
  const p = normalize(join(root, rel));
  if (p !== root && !p.startsWith(root + '/')) throw new NodeAgentError('SKEIN_ERR_NODE_VOLUME_PATH', `volume path ${rel} escapes its volume`);
  return p;
}

function formatMap(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {}).sort().map((k) => `${k}=${JSON.stringify(m![k])}`).join('\n');
}

export class PodVolumes {
  readonly #pod: V1Pod;
  readonly #root: string;
  readonly #reader: ClusterReader;
  readonly #ctx: VolumeContext;
  readonly #onMountPoint: (path: string) => void;
  readonly #log: (line: string) => void;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #dirs = new Map<string, string>(); // volume name -> host dir (or host path)
  #closed = false;

  constructor(pod: V1Pod, root: string, reader: ClusterReader, ctx: VolumeContext, onMountPoint: (path: string) => void, log: (line: string) => void) {
    this.#pod = pod;
    this.#root = root;
    this.#reader = reader;
    this.#ctx = ctx;
    this.#onMountPoint = onMountPoint;
    this.#log = log;
  }

  get #ns(): string { return this.#pod.metadata?.namespace ?? 'default'; }

  async setup(): Promise<void> {
    for (const v of this.#pod.spec?.volumes ?? []) await this.#setupVolume(v);
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
  }

  /** Bind mounts for a container; creates missing mount targets on the host (recorded so the agent removes them at stop). */
  mountsFor(c: V1Container): VolumeMountPlan[] {
    const plans: VolumeMountPlan[] = [];
    for (const m of c.volumeMounts ?? []) {
      const dir = this.#dirs.get(m.name);
      if (dir === undefined) throw new NodeAgentError('SKEIN_ERR_NODE_VOLUME_UNKNOWN', `container ${c.name} mounts unknown volume ${m.name}`);
      const source = m.subPath ? safeJoin(dir, m.subPath) : dir;
      let sourceIsDir = true;
      try { sourceIsDir = statSync(source).isDirectory(); } catch { mkdirSync(source, { recursive: true }); }
      this.#ensureTarget(m.mountPath, sourceIsDir);
      plans.push({ source, target: m.mountPath, readOnly: m.readOnly ?? false });
    }
    return plans;
  }

  #ensureTarget(target: string, isDir: boolean): void {
    try { statSync(target); return; } catch { /* create it */ }
    this.#mkdirs(isDir ? target : dirname(target));
    if (!isDir) {
      writeFileSync(target, '', { flag: 'a' });
      this.#onMountPoint(target);
    }
  }

  /** mkdir -p that reports every directory it created (cleanup removes them deepest first). */
  #mkdirs(dir: string): void {
    const missing: string[] = [];
    for (let d = dir; d !== dirname(d); d = dirname(d)) {
      try { statSync(d); break; } catch { missing.push(d); }
    }
    for (const d of missing.reverse()) {
      mkdirSync(d, { recursive: true, mode: 0o755 });
      this.#onMountPoint(d);
    }
  }

  async #setupVolume(v: V1Volume): Promise<void> {
    if (v.hostPath) {
      if (v.hostPath.type === 'DirectoryOrCreate') mkdirSync(v.hostPath.path, { recursive: true });
      this.#dirs.set(v.name, v.hostPath.path);
      return;
    }
    const dir = join(this.#root, v.name);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    this.#dirs.set(v.name, dir);
    if (v.emptyDir) {
      // World-writable like the kubelet's emptyDir, so any runAsUser can use it.
      chmodSync(dir, 0o777);
      return;
    }
    if (v.configMap) {
      await this.#writeKeys(dir, 'ConfigMap', v.configMap.name ?? '', v.configMap.items, v.configMap.defaultMode, v.configMap.optional);
      return;
    }
    if (v.secret) {
      await this.#writeKeys(dir, 'Secret', v.secret.secretName ?? '', v.secret.items, v.secret.defaultMode, v.secret.optional);
      return;
    }
    if (v.downwardAPI) {
      this.#writeDownward(dir, v.downwardAPI.items ?? [], v.downwardAPI.defaultMode);
      return;
    }
    if (v.projected) {
      const defaultMode = v.projected.defaultMode;
      for (const s of v.projected.sources ?? []) {
        if (s.serviceAccountToken) {
          const t = s.serviceAccountToken;
          await this.#writeToken(dir, { path: t.path, audience: t.audience || undefined, expirationSeconds: Math.max(600, t.expirationSeconds ?? 3600), mode: defaultMode ?? DEFAULT_MODE });
        } else if (s.configMap) {
          await this.#writeKeys(dir, 'ConfigMap', s.configMap.name ?? '', s.configMap.items, defaultMode, s.configMap.optional);
        } else if (s.secret) {
          await this.#writeKeys(dir, 'Secret', s.secret.name ?? '', s.secret.items, defaultMode, s.secret.optional);
        } else if (s.downwardAPI) {
          this.#writeDownward(dir, s.downwardAPI.items ?? [], defaultMode);
        } else {
          throw new NodeAgentError('SKEIN_ERR_NODE_VOLUME_UNSUPPORTED', `volume ${v.name}: unsupported projected source ${Object.keys(s).join(',')}`);
        }
      }
      return;
    }
    const kind = Object.keys(v).filter((k) => k !== 'name').join(',');
    throw new NodeAgentError('SKEIN_ERR_NODE_VOLUME_UNSUPPORTED', `volume ${v.name}: type ${kind} is not supported by the node agent`);
  }

  #writeFile(dir: string, rel: string, data: string | Buffer, mode: number): void {
    const p = safeJoin(dir, rel);
    mkdirSync(dirname(p), { recursive: true, mode: 0o755 });
    // Write-then-rename: a process reading the file (a token, a cert) never sees it half written.
    const tmp = `${p}.skein-tmp`;
    writeFileSync(tmp, data, { mode });
    const fsGroup = this.#pod.spec?.securityContext?.fsGroup;
    if (fsGroup !== undefined) chownSync(tmp, 0, fsGroup);
    renameSync(tmp, p);
  }

  async #writeKeys(dir: string, kind: 'ConfigMap' | 'Secret', name: string, items: V1KeyToPath[] | undefined, defaultMode: number | undefined, optional: boolean | undefined): Promise<void> {
    const data = kind === 'ConfigMap' ? await this.#reader.configMap(this.#ns, name) : await this.#reader.secret(this.#ns, name);
    if (data === undefined) {
      if (optional) return;
      throw new NodeAgentError('SKEIN_ERR_NODE_VOLUME_SOURCE', `${kind} ${this.#ns}/${name} not found`);
    }
    const list = items && items.length > 0 ? items : Object.keys(data).map((k) => ({ key: k, path: k }) as V1KeyToPath);
    for (const it of list) {
      const value = data[it.key];
      if (value === undefined) {
        if (optional) continue;
        throw new NodeAgentError('SKEIN_ERR_NODE_VOLUME_SOURCE', `${kind} ${this.#ns}/${name} has no key ${it.key}`);
      }
      this.#writeFile(dir, it.path, value, it.mode ?? defaultMode ?? DEFAULT_MODE);
    }
  }

  #writeDownward(dir: string, items: V1DownwardAPIVolumeFile[], defaultMode: number | undefined): void {
    for (const it of items) {
      let value = '';
      if (it.fieldRef) {
        const fp = it.fieldRef.fieldPath;
        if (fp === 'metadata.labels') value = formatMap(this.#pod.metadata?.labels);
        else if (fp === 'metadata.annotations') value = formatMap(this.#pod.metadata?.annotations);
        else {
          const r = resolveFieldRef(fp, { pod: this.#pod, ...this.#ctx });
          if (!r.ok) throw new NodeAgentError('SKEIN_ERR_NODE_VOLUME_SOURCE', r.error);
          value = r.value;
        }
      } else if (it.resourceFieldRef) {
        value = '0';
      }
      this.#writeFile(dir, it.path, value, it.mode ?? defaultMode ?? DEFAULT_MODE);
    }
  }

  async #writeToken(dir: string, t: TokenFile): Promise<void> {
    const { token, ttlSeconds } = await this.#reader.requestToken({
      namespace: this.#ns,
      serviceAccount: this.#pod.spec?.serviceAccountName ?? 'default',
      audience: t.audience,
      expirationSeconds: t.expirationSeconds,
      podName: this.#pod.metadata?.name ?? '',
      podUid: this.#pod.metadata?.uid ?? '',
    });
    this.#writeFile(dir, t.path, token, t.mode);
    // The kubelet refreshes at 80 % of the lifetime; a failed refresh retries in 10 s while the old token is still valid.
    this.#scheduleRefresh(dir, t, Math.max(5, ttlSeconds * 0.8) * 1000);
  }

  #scheduleRefresh(dir: string, t: TokenFile, delayMs: number): void {
    if (this.#closed) return;
    const timer = setTimeout(() => {
      this.#writeToken(dir, t).catch((e: unknown) => {
        this.#log(`token refresh for ${this.#ns}/${this.#pod.metadata?.name} failed: ${(e as Error).message}`);
        this.#scheduleRefresh(dir, t, 10_000);
      });
    }, delayMs);
    timer.unref();
    this.#timers.push(timer);
  }
}
