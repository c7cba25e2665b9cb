/**
 * SIMD instruction-throughput microbenchmark: how fast this CPU and this JS engine run the
 * WebAssembly SIMD instructions that bound an integer GEMM against a float one. One hand-encoded
 * module per loop (tools/cli/simdModules.ts), 12 independent accumulator chains each, best of
 * --reps timed calls of ~--ms milliseconds, interleaved. A benchmark, not a test: prints a table,
 * writes results/simd.json.
 *
 *   npm run bench:simd -- [--reps 5] [--ms 200] [--chains 12] [--only id,id] [--browser] [--out results/simd.json]
 *
 * --browser also runs the loops in headless Chromium (/usr/bin/chromium through Playwright, page
 * tools/cli/benchSimd.page.html served by Vite on 127.0.0.1).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname } from 'node:path';
import { runPage } from './browserPage';
import { cliArgs } from './args';
import { cpuInfo } from './machine';
import { enableNodeRelaxedSimd } from '../../src/cpu/cpuKernels';
import { DEFAULT_CHAINS, formatTable, type LoopFigures, measureLoops, relaxedProbe, SIMD_LOOPS } from './simdModules';

const args = cliArgs('bench:simd', {
  reps: { int: [1, 100] },
  ms: { int: [10, 10_000] },
  chains: { int: [8, 16] },
  only: 'string',
  browser: 'boolean',
  out: 'string',
});
const REPS = (args.reps as number | undefined) ?? 5;
const MS = (args.ms as number | undefined) ?? 200;
const CHAINS = (args.chains as number | undefined) ?? DEFAULT_CHAINS;
const OUT = (args.out as string | undefined) ?? 'results/simd.json';
const ONLY = args.only === undefined ? undefined : String(args.only).split(',');
if (ONLY) {
  const ids = SIMD_LOOPS.map((l) => l.id);
  const bad = ONLY.filter((id) => !ids.includes(id));
  if (bad.length) {
    console.error(
      `bench:simd: --only: unknown loop ${bad.map((b) => `'${b}'`).join(', ')}; expected a comma-separated list of ${ids.join(', ')}`,
    );
    process.exit(2);
  }
}

const loadAverageAtStart = loadavg();

/** relaxed SIMD on in Node 20 (src/cpu/cpuKernels.ts sets the V8 flag when the probe does not validate) */
async function enableRelaxedSimd(): Promise<boolean> {
  await enableNodeRelaxedSimd(relaxedProbe());
  return WebAssembly.validate(relaxedProbe() as BufferSource);
}

const round = (figs: LoopFigures[]) =>
  figs.map((f) => ({
    ...f,
    seconds: f.seconds.map((s) => +s.toFixed(5)),
    bestSeconds: +f.bestSeconds.toFixed(5),
    gInstructionsPerSecond: +f.gInstructionsPerSecond.toFixed(3),
    gMacsPerSecond: +f.gMacsPerSecond.toFixed(3),
    vsRelaxedMadd: f.vsRelaxedMadd === null ? null : +f.vsRelaxedMadd.toFixed(3),
    vsMulAdd: f.vsMulAdd === null ? null : +f.vsMulAdd.toFixed(3),
    ...(f.gMacsPerCpuSecond !== undefined ? { gMacsPerCpuSecond: +f.gMacsPerCpuSecond.toFixed(3) } : {}),
  }));

async function main() {
  const cpu = cpuInfo();
  const relaxed = await enableRelaxedSimd();
  console.log(
    `machine: ${cpu.model} × ${cpu.cores} (avx512_vnni ${cpu.avx512_vnni ? 'yes' : 'no'}, avx_vnni ${cpu.avx_vnni ? 'yes' : 'no'}), load average ${loadAverageAtStart
      .map((v) => v.toFixed(2))
      .join(' ')}`,
  );
  console.log(`node ${process.version}, V8 ${process.versions.v8}, relaxed SIMD ${relaxed ? 'on' : 'unavailable'}`);
  console.log(`${CHAINS} chains, best of ${REPS} calls of ~${MS} ms per loop\n`);

  const opts = { chains: CHAINS, reps: REPS, ms: MS, only: ONLY };
  const node = await measureLoops({
    ...opts,
    log: (s) => console.log(`  ${s}`),
    cpuSeconds: () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1e6;
    },
  });
  console.log(`\nNode ${process.version} (V8 ${process.versions.v8}):\n${formatTable(node)}\n`);

  let chromium: { userAgent: string; loops: LoopFigures[] } | null = null;
  if (args.browser) {
    const r = await runPage<{ userAgent: string; loops: LoopFigures[] } | { error: string }>({
      page: 'tools/cli/benchSimd.page.html',
      query: { chains: opts.chains, reps: opts.reps, ms: opts.ms, ...(opts.only ? { only: opts.only.join(',') } : {}) },
      global: '__benchSimd',
      timeoutMs: 300_000,
      console: (l) => console.log(`  [chromium] ${l}`),
    });
    if ('error' in r) throw new Error(`Chromium page: ${r.error}`);
    chromium = r;
    console.log(`\nChromium (${chromium.userAgent}):\n${formatTable(chromium.loops)}\n`);
  }

  const result = {
    date: new Date().toISOString(),
    command: `npm run bench:simd -- ${process.argv.slice(2).join(' ')}`.trim(),
    note: 'one thread; per loop, the best of the timed calls (interleaved across loops); a step is one chain advanced by the listed instructions, its multiplicand the chain’s own accumulator (no invariant product to hoist); G = 1e9; vsRelaxedMadd / vsMulAdd = MACs/s over the f32x4.relaxed_madd / f32x4.mul+add loop’s',
    machine: { cpu: cpu.model, cores: cpu.cores, avx512_vnni: cpu.avx512_vnni, avx_vnni: cpu.avx_vnni },
    loadAverageAtStart,
    loadAverageAtEnd: loadavg(),
    settings: { chains: CHAINS, reps: REPS, msPerCall: MS },
    node: { version: process.version, v8: process.versions.v8, relaxedSimd: relaxed, loops: round(node) },
    chromium: chromium ? { userAgent: chromium.userAgent, loops: round(chromium.loops) } : null,
  };
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(result, null, 2) + '\n');
  console.log(`load average at end ${result.loadAverageAtEnd.map((v) => v.toFixed(2)).join(' ')}; wrote ${OUT}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
