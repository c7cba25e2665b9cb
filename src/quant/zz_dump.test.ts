import { it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { RangeHistogram, calibrateRange } from '/work/main/src/quant/calibrate';
it('dump', () => {
  let s = 12345;
  const u = () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
  const g = () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  const cases = [];
  const gens: [string, () => number][] = [['gauss', () => g()], ['softmax-like', () => Math.exp(3 * g()) / 50], ['heavy', () => g() * (u() < 0.001 ? 30 : 1) + 0.5]];
  for (const [name, gen] of gens) {
    const x = Float32Array.from({ length: 30000 }, gen);
    const h = new RangeHistogram();
    h.observeRange(x); h.freeze(); h.observe(x);
    const res: Record<string, unknown> = {};
    for (const c of ['minmax', 'percentile', 'mse', 'kl'] as const) for (const bits of [8, 4, 2] as const) for (const sym of [true, false])
      res[`${c}/${bits}/${sym}`] = calibrateRange(h, c, { bits, symmetric: sym, percentile: 99.9 });
    cases.push({ name, hist: h.toJSON(), res });
  }
  writeFileSync('/tmp/xc/cal.json', JSON.stringify(cases));
});
