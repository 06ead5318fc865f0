// Test projects: unit (pure logic), integration (real servers on loopback), e2e (the local Kubernetes cluster).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{api,proxy,control-plane,injector,cli,local-cluster,conformance,bench}/**/*.test.ts', 'test/unit/**/*.test.ts'],
          // The bench's tools, so that its tests run rather than skip on a new machine (about 2 min once, then instant).
          globalSetup: ['bench/lib/bench-tools-setup.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // Builds etcd and kube-* once when missing (long on a cold machine; instant from the cache).
          globalSetup: ['test/e2e/global-setup.ts'],
          testTimeout: 600_000,
          hookTimeout: 3_600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
