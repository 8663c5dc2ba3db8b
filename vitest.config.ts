import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Collects what the test servers' answer checks noted, and fails the run on a mismatch or an
    // operation no integration test exercised (test/global-setup.ts).
    globalSetup: ['test/global-setup.ts'],
    // Forks, not threads: the suite starts worker-thread pools and native modules of its own.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
