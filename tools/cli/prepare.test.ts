import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { buildWasm, WasmBuildError } from './buildWasm.mjs';

// Issue 11 item 9: every entry point builds the wasm kernels when missing or stale (as it prepares
// the data), and a failed build stops it loudly instead of running the slow TypeScript kernels.

const root = resolve(__dirname, '../..');

describe('entry points prepare the wasm kernels', () => {
  test('every run/test/benchmark script starts with tools/cli/prepare.mjs', () => {
    const scripts = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts as Record<string, string>;
    for (const name of ['dev', 'build', 'test:unit', 'test:e2e', 'eval', 'study', 'bench:cpu', 'bench:kernels']) {
      expect(scripts[name], name).toMatch(/^node tools\/cli\/prepare\.mjs && /);
    }
    // and the runners started without npm: vitest, vite-node tools, Playwright's dev server
    expect(readFileSync(join(root, 'vitest.config.ts'), 'utf8')).toMatch(/globalSetup: \['tools\/cli\/vitestSetup\.mjs'\]/);
    expect(readFileSync(join(root, 'tools/cli/vite-node.config.ts'), 'utf8')).toMatch(/configResolved: \(\) => prepare\(/);
    expect(readFileSync(join(root, 'playwright.config.ts'), 'utf8')).toMatch(/command: 'node tools\/cli\/prepare\.mjs && npx vite/);
  });

  const scratch = mkdtempSync(join(tmpdir(), 'qp-wasm-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  test('a fresh checkout builds the three modules, then skips, then rebuilds when asm/ changes', () => {
    cpSync(join(root, 'asm'), join(scratch, 'asm'), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'));
    const quiet = { root: scratch, log: () => undefined };
    expect(buildWasm(quiet)).toBe('built');
    expect(existsSync(join(scratch, 'src/cpu/generated/kernels.wasm'))).toBe(true);
    expect(existsSync(join(scratch, 'src/cpu/generated/kernels-relaxed.wasm'))).toBe(true);
    expect(existsSync(join(scratch, 'src/cpu/generated/kernels-relaxed-dot.wasm'))).toBe(true);
    expect(buildWasm(quiet)).toBe('up-to-date');
    // a missing build is rebuilt, not skipped
    rmSync(join(scratch, 'src/cpu/generated/kernels-relaxed-dot.wasm'));
    expect(buildWasm(quiet)).toBe('built');
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(scratch, 'asm/kernels.ts'), later, later);
    expect(buildWasm(quiet)).toBe('built');
  }, 300_000);

  test('without AssemblyScript: a clear error (strict), never a silent fallback', () => {
    const bare = mkdtempSync(join(tmpdir(), 'qp-wasm-bare-'));
    try {
      cpSync(join(root, 'asm'), join(bare, 'asm'), { recursive: true });
      expect(() => buildWasm({ root: bare })).toThrow(WasmBuildError);
      expect(() => buildWasm({ root: bare })).toThrow(/AssemblyScript is not installed[\s\S]*TypeScript kernels[\s\S]*npm install/);
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });
});
