/**
 * The TypeScript codecs (formats.ts) against tools/ref/formats_ref.py — an implementation written
 * from the OCP FP8 / MX specifications, NVFP4's recipe and QLoRA (rounding by the quantum formula,
 * NF4 levels from Φ⁻¹), sharing no code with this one. Element by element on heavy-tailed data,
 * ties, zero blocks and subnormal magnitudes (fixture: tools/ref/make_formats_fixture.py).
 */
import { describe, expect, it } from 'vitest';
import fixture from './fixtures/formats_torch.json';
import { fakeQuantFormat, type NumberFormat } from './formats';

describe('formats: TypeScript = PyTorch reference (from the specs), element by element', () => {
  for (const c of fixture.cases) {
    it(c.format, () => {
      const y = fakeQuantFormat(Float32Array.from(c.x), c.rows, c.cols, c.format as Exclude<NumberFormat, 'int'>);
      const want = Float32Array.from(c.y);
      let exact = 0;
      let maxRel = 0;
      for (let i = 0; i < y.length; i++) {
        if (y[i] === want[i] || (y[i] === 0 && want[i] === 0)) exact++;
        else maxRel = Math.max(maxRel, Math.abs(y[i] - want[i]) / Math.max(Math.abs(want[i]), 1e-30));
      }
      // NF4's levels are Φ⁻¹ recomputed in float64 on the PyTorch side (bitsandbytes' table in TS):
      // they differ in the last float32 bit, so NF4 is compared to 1e-6 relative
      if (c.format === 'nf4') expect(maxRel).toBeLessThan(1e-6);
      else expect(exact).toBe(y.length);
    });
  }
});
