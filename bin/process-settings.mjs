// V8 flags and environment that the long-running commands re-execute themselves with (bin/skein.mjs), in one place so
// that the benchmarks measure a process set up the way it runs in a pod (bench/config-push.ts starts its control plane
// with these).

/**
 * `proxy`: semi-spaces capped at 1 MB (V8 grows them to 16 MB): -2 MB RSS idle, -4 MB at 1000 req/s, -110 MB under
 * saturating HTTP/2; costs ~2 % of closed-loop HTTP/1.1 and ~5 % of HTTP/2 throughput (docs/benchmarks.md).
 * `control-plane`: the same cap. Its young generation only ever holds a translation's garbage and a burst of stream
 * set-ups: with 1000 Services and 2000 proxies the JS heap's size went from 66-81 MB to 52-54 MB (docs/control-plane.md).
 * And `--expose-gc`, for serving's IdleReclaimer: one memory-reducing GC once pushes go quiet after a burst gives back the
 * pages a burst left with V8 (300 proxies just synced: 196 -> 118 MB RSS), which regular GCs keep.
 */
export const V8_FLAGS = {
  proxy: ['--max-semi-space-size=1'],
  'control-plane': ['--max-semi-space-size=1', '--expose-gc'],
};

/**
 * `control-plane`: glibc's malloc hands buffers above 128 KiB straight back to the system when freed. Left to itself it
 * raises that threshold to the largest buffer freed so far (a first push of the whole config, ~1.4 MB with 1000 Services),
 * after which such buffers come from its heap, which it seldom gives back: 363 instead of 250 MB RSS with 2000 proxies.
 * Ignored by other C libraries.
 */
export const ENV = {
  'control-plane': { MALLOC_MMAP_THRESHOLD_: '131072' },
};
