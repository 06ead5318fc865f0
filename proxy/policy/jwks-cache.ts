// The keys a JWT layer verifies with: an inline set, or a set fetched from a URL and cached (refreshed in the background,
// one fetch at a time, the last good keys kept through fetch failures).
import type { JSONWebKeySet } from 'jose';
import type { JwksSourceConfig } from '../../api/config/edge-policy-config.ts';
import { MAX_JWKS_BYTES, MAX_JWKS_KEYS } from '../../api/config/edge-policy-defaults.ts';
import type { EdgeHttpCall } from './edge-http-client.ts';

type Jose = typeof import('jose');
/** What jose's jwtVerify takes to find the key of a token (createLocalJWKSet's result). */
export type KeyGetter = ReturnType<Jose['createLocalJWKSet']>;

export interface KeySource {
  /** The keys to verify with now, or null when there are none yet (then `refresh` is the only way to get some). */
  current(): KeyGetter | null;
  /**
   * Fetches the set again (a token named a key we do not have, or there are no keys yet) and resolves with the keys then
   * current. Every caller shares the one fetch in flight; within the cooldown / retry interval nothing is fetched and
   * the current keys (maybe null) come back at once.
   */
  refresh(): Promise<KeyGetter | null>;
}

export interface JwksEvents {
  fetched: number;
  fetchFailed: number;
}

/** Checks a fetched or inline document and makes the key getter; throws (with why) when it is not a usable JWKS. */
export function keyGetter(jose: Jose, doc: unknown): KeyGetter {
  if (doc === null || typeof doc !== 'object' || !Array.isArray((doc as { keys?: unknown }).keys)) throw new Error('not a JSON Web Key Set');
  const keys = (doc as { keys: unknown[] }).keys;
  if (keys.length > MAX_JWKS_KEYS) throw new Error(`more than ${MAX_JWKS_KEYS} keys`);
  return jose.createLocalJWKSet(doc as JSONWebKeySet);
}

export class InlineKeys implements KeySource {
  readonly #keys: KeyGetter;
  constructor(jose: Jose, keys: readonly Readonly<Record<string, unknown>>[]) {
    this.#keys = keyGetter(jose, { keys });
  }
  current(): KeyGetter {
    return this.#keys;
  }
  refresh(): Promise<KeyGetter> {
    return Promise.resolve(this.#keys);
  }
}

export class RemoteKeys implements KeySource {
  readonly #source: Extract<JwksSourceConfig, { type: 'remote' }>;
  readonly #jose: Jose;
  readonly #call: EdgeHttpCall;
  readonly #now: () => number;
  readonly #events: JwksEvents;
  readonly #onFailure: (reason: string) => void;
  #keys: KeyGetter | null = null;
  #fetchedAt = 0;
  /** No fetch starts before this (after a failure: retryIntervalMs; after an unknown-key refetch: the cooldown). */
  #notBefore = 0;
  #inflight: Promise<KeyGetter | null> | null = null;

  constructor(
    source: Extract<JwksSourceConfig, { type: 'remote' }>,
    jose: Jose,
    call: EdgeHttpCall,
    now: () => number,
    events: JwksEvents,
    onFailure: (reason: string) => void,
  ) {
    this.#source = source;
    this.#jose = jose;
    this.#call = call;
    this.#now = now;
    this.#events = events;
    this.#onFailure = onFailure;
  }

  current(): KeyGetter | null {
    // Stale keys keep serving while the refresh runs: a request never waits for a routine refresh.
    if (this.#keys !== null && this.#now() - this.#fetchedAt >= this.#source.refreshIntervalMs) void this.#fetch();
    return this.#keys;
  }

  refresh(): Promise<KeyGetter | null> {
    return this.#fetch();
  }

  #fetch(): Promise<KeyGetter | null> {
    if (this.#inflight !== null) return this.#inflight;
    const now = this.#now();
    if (now < this.#notBefore) return Promise.resolve(this.#keys);
    this.#inflight = this.#load().finally(() => {
      this.#inflight = null;
    });
    return this.#inflight;
  }

  async #load(): Promise<KeyGetter | null> {
    const s = this.#source;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), s.fetchTimeoutMs);
    try {
      const res = await this.#call({ method: 'GET', url: s.url, headers: { accept: 'application/json' }, signal: abort.signal, maxBytes: MAX_JWKS_BYTES });
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      const keys = keyGetter(this.#jose, JSON.parse(res.body.toString('utf8')));
      this.#keys = keys;
      this.#fetchedAt = this.#now();
      this.#notBefore = this.#fetchedAt + s.unknownKeyCooldownMs;
      this.#events.fetched++;
      return keys;
    } catch (e) {
      // The last good keys keep serving; the next attempt waits, so a dead JWKS endpoint is not hammered per request.
      this.#notBefore = this.#now() + s.retryIntervalMs;
      this.#events.fetchFailed++;
      this.#onFailure(abort.signal.aborted ? `timed out after ${s.fetchTimeoutMs} ms` : (e as Error).message);
      return this.#keys;
    } finally {
      clearTimeout(timer);
    }
  }
}
