// The webhook benchmark hook runs end to end (small and bounded here; the harness runs the full size).
import { expect, it } from 'vitest';
import { measureWebhookP99 } from './webhook.ts';

it('measureWebhookP99 measures real reviews against a real injector process', async () => {
  const r = await measureWebhookP99({ requests: 200, warmup: 50, saturationRequests: 200, ratePerSecond: 200 });
  expect(r.n).toBe(200);
  expect(r.p50Ms).toBeGreaterThan(0);
  expect(r.p99Ms).toBeGreaterThanOrEqual(r.p50Ms);
  expect(r.saturation!.reviewsPerSecond).toBeGreaterThan(0);
}, 60_000);
