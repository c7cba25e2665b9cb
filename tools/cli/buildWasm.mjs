#!/usr/bin/env node
// Compiles asm/kernels.ts (AssemblyScript) into src/cpu/generated/kernels.wasm with SIMD128, -O3, and
// src/cpu/generated/kernels-relaxed.wasm with relaxed SIMD too (fused multiply-add in the FP32 GEMM,
// relaxed int8 dot in the integer GEMMs; browsers load it first and fall back where the engine lacks
// relaxed SIMD), and kernels-relaxed-dot.wasm (relaxed int8 dot, no FMA: what Node loads).
// Skips the compile when both .wasm files are newer than their sources. Every entry point (dev,
// tests, eval, study, benchmarks) runs it through tools/cli/prepare.mjs, strict: a fresh clone
// builds what it needs, and a failed build stops the command instead of leaving the CPU backend on
// its ~10× slower TypeScript kernels (QP_ALLOW_TS_KERNELS=1 runs on them anyway, with a warning).
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export class WasmBuildError extends Error {}

/**
 * Build the kernels when missing or older than asm/ (or this script). Returns 'up-to-date' or
 * 'built'. strict: throw WasmBuildError when it cannot build; else warn and return 'failed'.
 * root: the checkout (tests build into a scratch copy). log: for the up-to-date line only.
 */
export function buildWasm({ force = false, strict = true, root = repoRoot, log = console.log } = {}) {
  const src = join(root, 'asm/kernels.ts');
  const outDir = join(root, 'src/cpu/generated');
  const out = join(outDir, 'kernels.wasm');
  const outRelaxed = join(outDir, 'kernels-relaxed.wasm');
  const outRelaxedDot = join(outDir, 'kernels-relaxed-dot.wasm');
  const newest = Math.max(
    ...readdirSync(join(root, 'asm')).map((f) => statSync(join(root, 'asm', f)).mtimeMs),
    statSync(fileURLToPath(import.meta.url)).mtimeMs,
  );
  const outs = [out, outRelaxed, outRelaxedDot];
  if (!force && outs.every((f) => existsSync(f)) && Math.min(...outs.map((f) => statSync(f).mtimeMs)) >= newest) {
    log('build:wasm: src/cpu/generated/kernels.wasm is up to date');
    return 'up-to-date';
  }
  const fail = (why) => {
    const msg = `build:wasm: ${why}. Without it the CPU backend runs its TypeScript kernels, ~10× slower.`;
    if (strict)
      throw new WasmBuildError(
        `${msg}\nfix: run npm install (AssemblyScript is a dev dependency), then npm run build:wasm; or set QP_ALLOW_TS_KERNELS=1 to run on the slow kernels anyway.`,
      );
    console.warn(`\n*** ${msg} ***\n`);
    return 'failed';
  };
  mkdirSync(outDir, { recursive: true });
  const asc = join(root, 'node_modules/assemblyscript/bin/asc.js');
  if (!existsSync(asc)) return fail('AssemblyScript is not installed (node_modules/assemblyscript is missing)');
  console.log(`build:wasm: compiling asm/kernels.ts (${existsSync(out) ? 'sources changed' : 'not built yet'})…`);
  const common = [asc, src, '-O3', '--noAssert', '--runtime', 'stub', '--use', 'abort=', '--initialMemory', '16'];
  const t0 = Date.now();
  for (const [file, features] of [
    [out, ['--enable', 'simd', '--use', 'QP_FMA=0']],
    [outRelaxed, ['--enable', 'simd', '--enable', 'relaxed-simd', '--use', 'QP_FMA=1']],
    // relaxed int8 dot without FMA: what Node's tools load (FP32 figures as the SIMD128 build's)
    [outRelaxedDot, ['--enable', 'simd', '--enable', 'relaxed-simd', '--use', 'QP_FMA=0']],
  ]) {
    // no imports (abort= removes the only one): the module instantiates with {}
    const r = spawnSync(process.execPath, [...common, ...features, '--outFile', file], { stdio: 'inherit', cwd: root });
    if (r.status !== 0) return fail(`asc failed (exit ${r.status}) for ${file}`);
  }
  console.log(
    `build:wasm: wrote src/cpu/generated/kernels.wasm (${statSync(out).size} bytes), kernels-relaxed.wasm (${statSync(outRelaxed).size} bytes) and kernels-relaxed-dot.wasm (${statSync(outRelaxedDot).size} bytes) in ${Date.now() - t0} ms`,
  );
  return 'built';
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    buildWasm({ force: process.argv.includes('--force'), strict: !process.env.QP_ALLOW_TS_KERNELS });
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
