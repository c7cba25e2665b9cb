/**
 * The trainer's forward and backward against PyTorch autograd (fixture: tools/ref/make_qat_fixture.py,
 * LSQ written from Esser et al. 2020 and LSQ+ in tools/ref/lsq.py, the ViT of tools/train/vit.py):
 * the LSQ quantizer alone (∂x, ∂s, ∂z per tensor / channel / group, 2–8 bits), then a small ViT on
 * the FP32 plan and on a mixed plan — min/max calibration, loss, logits, the gradient of every
 * parameter and of every s and z. Run on both kernel sets (WASM SIMD and TypeScript).
 *
 * Error measure: max over elements of |ts − torch| / max(|torch| over the tensor) (a normwise
 * relative error: float32 sums in different orders make a small absolute difference, and a
 * relative error per element is meaningless where a gradient crosses 0).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import fixture from './fixtures/qat_torch.json';
import { loadCpuKernels } from '../cpu/cpuKernels';
import type { Plan } from '../plan/plan';
import { fixtureWeights } from './fixtures/fixtureWeights';
import { LearnedQuantizer } from './fakeQuant';
import { trainKernelsFor, tsTrainKernels, type TrainKernels } from './trainKernels';
import { quantKey } from './ops';
import { QatTrainer } from './trainer';

function normwiseError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} vs ${want.length}`);
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  let err = 0;
  for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]));
  return scale === 0 ? err : err / scale;
}

const weightsOf = fixtureWeights;

const pixels = Uint8Array.from(fixture.pixels);
const labels = fixture.labels;
const idx = labels.map((_, i) => i);
/** the largest errors seen, printed at the end for the closing note */
const worst: Record<string, number> = {};
const note = (k: string, e: number) => (worst[k] = Math.max(worst[k] ?? 0, e));

describe('LSQ fake-quant = PyTorch autograd (∂x, ∂s, ∂z)', () => {
  for (const c of fixture.lsq) {
    const sp = c.spec as {
      bits: number;
      symmetric: boolean;
      granularity: 'tensor' | 'channel' | 'group';
      rows: number;
      cols: number;
      group_size?: number;
    };
    it(`${sp.bits}-bit ${sp.symmetric ? 'symmetric' : 'asymmetric'} per ${sp.granularity}`, () => {
      const per = sp.granularity === 'tensor' ? sp.rows * sp.cols : sp.granularity === 'channel' ? sp.cols : sp.group_size!;
      const q = new LearnedQuantizer(
        { bits: sp.bits as 8, granularity: sp.granularity, groupSize: sp.group_size, symmetric: sp.symmetric, range: 'static' },
        { rows: sp.rows, cols: sp.cols, groupCols: 0 },
        per,
      );
      expect(q.gradScale).toBeCloseTo(c.grad_scale, 12);
      q.s.set(c.s);
      q.z.set(c.z);
      const x = Float32Array.from(c.x);
      const y = q.forward(x);
      expect(normwiseError(y, c.y)).toBeLessThan(1e-6);
      const dx = new Float32Array(x.length);
      q.backward(x, Float32Array.from(c.dy), dx);
      // ∂x is 0 or dy per element (PyTorch's dy·s·(1/s) differs in the last float32 bit)
      expect(normwiseError(dx, c.dx)).toBeLessThan(1e-6);
      for (let i = 0; i < dx.length; i++) expect(dx[i] === 0, `∂x[${i}] clamped in one, not the other`).toBe(c.dx[i] === 0);
      const es = normwiseError(q.gs, c.ds);
      const ez = normwiseError(q.gz, c.dz);
      note('lsq ds', es);
      note('lsq dz', ez);
      expect(es).toBeLessThan(5e-6);
      expect(ez).toBeLessThan(2e-5);
    });
  }
});

describe.each([
  ['wasm kernels', 'wasm'],
  ['TypeScript kernels', 'ts'],
])('small ViT through the step list (%s) = PyTorch autograd', (_label, which) => {
  let kernels: TrainKernels;
  beforeAll(async () => {
    kernels = which === 'ts' ? tsTrainKernels : trainKernelsFor(await loadCpuKernels());
    if (which === 'wasm' && kernels.impl !== 'wasm-simd') throw new Error('the wasm kernels did not load: run npm run build:wasm');
  });

  it('FP32 plan: logits, loss and the gradient of every parameter', () => {
    const c = fixture.fp32;
    const tr = new QatTrainer(weightsOf(c), c.plan as unknown as Plan, kernels);
    const r = tr.lossAndGrads(pixels, labels, idx);
    expect(Math.abs(r.loss - c.loss)).toBeLessThan(1e-5);
    const names = Object.keys(c.grads);
    expect(names.length).toBe(tr.model.params.length);
    for (const n of names) {
      const e = normwiseError(r.tape.grads.get(n)!, (c.grads as Record<string, number[]>)[n]);
      note(`fp32 ∂${n}`, e);
      expect(e, n).toBeLessThan(5e-6);
    }
  });

  it('mixed INT plan: min/max calibration, loss, ∂ every parameter, ∂s and ∂z of every quantizer', () => {
    const c = fixture.mixed;
    const tr = new QatTrainer(weightsOf(c), c.plan as unknown as Plan, kernels);
    tr.calibrate(pixels, labels.length);
    const quant = c.quant as Record<string, { s: number[]; z: number[]; ds: number[]; dz: number[] }>;
    expect([...tr.quantizers.keys()].sort()).toEqual(Object.keys(quant).sort());
    for (const [k, want] of Object.entries(quant)) {
      const q = tr.quantizers.get(k)!;
      expect(normwiseError(q.s, want.s), `s ${k}`).toBeLessThan(1e-6);
      expect(Array.from(q.z), `z ${k}`).toEqual(want.z);
    }
    const r = tr.lossAndGrads(pixels, labels, idx);
    expect(Math.abs(r.loss - c.loss)).toBeLessThan(1e-4);
    for (const n of Object.keys(c.grads)) {
      const e = normwiseError(r.tape.grads.get(n)!, (c.grads as Record<string, number[]>)[n]);
      note(`mixed ∂${n}`, e);
      expect(e, n).toBeLessThan(5e-6);
    }
    for (const [k, want] of Object.entries(quant)) {
      const q = tr.quantizers.get(k)!;
      const es = normwiseError(q.gs, want.ds);
      note(`mixed ∂s`, es);
      expect(es, `∂s ${k}`).toBeLessThan(2e-4);
      const ez = normwiseError(q.gz, want.dz);
      note(`mixed ∂z`, ez);
      expect(ez, `∂z ${k}`).toBeLessThan(2e-5);
    }
    expect(quantKey(0, 'a')).toBe('0a');
    console.log(
      `[${which}] max normwise errors:`,
      JSON.stringify(
        Object.fromEntries(
          Object.entries(worst)
            .filter(([k]) => !k.startsWith('fp32 ∂') && !k.startsWith('mixed ∂b'))
            .map(([k, v]) => [k, Number(v.toExponential(2))]),
        ),
      ),
    );
    console.log(
      `[${which}] max over all parameter gradients: fp32 ${Math.max(
        ...Object.entries(worst)
          .filter(([k]) => k.startsWith('fp32'))
          .map(([, v]) => v),
      ).toExponential(2)}, mixed ${Math.max(
        ...Object.entries(worst)
          .filter(([k]) => k.startsWith('mixed ∂') && !k.includes('∂s') && !k.includes('∂z'))
          .map(([, v]) => v),
      ).toExponential(2)}`,
    );
  });
});
