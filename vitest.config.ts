import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'tools/**/*.test.ts'],
    environment: 'node',
    // builds the wasm kernels and prepares the data when missing or stale (tools/cli/prepare.mjs)
    globalSetup: ['tools/cli/vitestSetup.mjs'],
    // Dawn over SwiftShader uses both cores; files run one at a time so GPU tests do not starve.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
