import { defineConfig } from 'vitest/config';

/**
 * The int32 dot routes' tests run where V8 compiles wasm with its optimizing tier only: Node 20's
 * baseline compiler (Liftoff) gets i32x4.relaxed_dot_i8x16_i7x16_add_s wrong on x64 without
 * AVX-VNNI, so a test there would measure V8, not our kernels (the probes catch that engine and never
 * use the route on it; src/cpu/dotRoutes.test.ts, cpuKernels.ts timeRoutes).
 */
const TURBOFAN_ONLY = ['src/cpu/dotRoutes.test.ts'];

export default defineConfig({
  test: {
    environment: 'node',
    // builds the wasm kernels and prepares the data when missing or stale (tools/cli/prepare.mjs)
    globalSetup: ['tools/cli/vitestSetup.mjs'],
    // Dawn over SwiftShader uses both cores; files run one at a time so GPU tests do not starve.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['src/**/*.test.ts', 'tools/**/*.test.ts'], exclude: ['**/node_modules/**', ...TURBOFAN_ONLY] },
      },
      { extends: true, test: { name: 'turbofan', include: TURBOFAN_ONLY, pool: 'forks', execArgv: ['--no-liftoff'] } },
    ],
  },
});
