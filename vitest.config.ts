import { defineConfig } from 'vitest/config';

// VM tests boot real QEMU guests under TCG: two workers match the two cores of our machines,
// and the timeouts leave room for a slow CI host.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    poolOptions: { forks: { minForks: 1, maxForks: 2 } },
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
