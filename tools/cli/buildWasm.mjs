#!/usr/bin/env node
// Compiles asm/kernels.ts (AssemblyScript) into src/cpu/generated/kernels.wasm with SIMD128, -O3, and
// src/cpu/generated/kernels-relaxed.wasm with relaxed SIMD too (fused multiply-add in the FP32 GEMM;
// the loader tries it first and falls back where the engine lacks relaxed SIMD, e.g. Node 20).
// Skips the compile when the .wasm is newer than its sources (runs before dev and unit tests).
// A failure is reported but does not stop the caller: src/cpu/cpuKernels.ts then falls back to its
// TypeScript kernels and says why (kernels.fallbackReason).
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const src = join(root, 'asm/kernels.ts');
const outDir = join(root, 'src/cpu/generated');
const out = join(outDir, 'kernels.wasm');
const outRelaxed = join(outDir, 'kernels-relaxed.wasm');
const force = process.argv.includes('--force');
const strict = process.argv.includes('--strict');

const newest = Math.max(...readdirSync(join(root, 'asm')).map((f) => statSync(join(root, 'asm', f)).mtimeMs), statSync(fileURLToPath(import.meta.url)).mtimeMs);
if (!force && existsSync(out) && existsSync(outRelaxed) && Math.min(statSync(out).mtimeMs, statSync(outRelaxed).mtimeMs) >= newest) {
  console.log('build:wasm: src/cpu/generated/kernels.wasm is up to date');
  process.exit(0);
}
mkdirSync(outDir, { recursive: true });
const asc = join(root, 'node_modules/assemblyscript/bin/asc.js');
if (!existsSync(asc)) {
  console.warn('build:wasm: assemblyscript is not installed (npm install); the CPU backend will use its TypeScript kernels');
  process.exit(strict ? 1 : 0);
}
const common = [asc, src, '-O3', '--noAssert', '--runtime', 'stub', '--use', 'abort=', '--initialMemory', '16'];
const t0 = Date.now();
for (const [file, features] of [
  [out, ['--enable', 'simd']],
  [outRelaxed, ['--enable', 'simd', '--enable', 'relaxed-simd']],
]) {
  // no imports (abort= removes the only one): the module instantiates with {}
  const r = spawnSync(process.execPath, [...common, ...features, '--outFile', file], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) {
    console.warn(`build:wasm: asc failed (exit ${r.status}) for ${file}; the CPU backend will use its TypeScript kernels`);
    process.exit(strict ? 1 : 0);
  }
}
console.log(`build:wasm: wrote src/cpu/generated/kernels.wasm (${statSync(out).size} bytes) and kernels-relaxed.wasm (${statSync(outRelaxed).size} bytes) in ${Date.now() - t0} ms`);
