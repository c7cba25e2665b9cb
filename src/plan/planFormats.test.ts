/** Formats and rotation in the plan schema, the UI's scheme fitting and the URL codec: valid plans round-trip, bad ones are named. */
import { describe, expect, it } from 'vitest';
import { fp32Plan, PlanError, sitePath, validatePlan } from './plan';
import { fmtOp, formatPlan, ROTATABLE_SITES, rotationStudyPlan, withRotation } from './presets';
import { fitSite } from '../state/schemes';
import { decodeConfig, encodeConfig } from '../state/urlCodec';
import { defaultConfig } from '../state/config';
import { bitsTag } from '../ui/common/format';

const FORMATS = ['fp8_e4m3', 'fp8_e5m2', 'mxfp8', 'mxfp4', 'nvfp4', 'nf4'] as const;

describe('plan schema: formats and rotation', () => {
  it('every format plan and the rotation plans validate unchanged', () => {
    for (const f of FORMATS) expect(validatePlan(formatPlan(f))).toEqual(JSON.parse(JSON.stringify(formatPlan(f))));
    const r = rotationStudyPlan('w4a4', true, 3);
    expect(validatePlan(r).sites.filter((s) => s.rotation?.seed === 3).length).toBe(18);
    expect(ROTATABLE_SITES).toEqual([1, 5, 6, 7, 11, 12, 13, 17, 18, 19, 23, 24, 25, 29, 30, 31, 35, 36]);
  });

  const bad: [string, (p: ReturnType<typeof fp32Plan>) => void, RegExp][] = [
    ['unknown format', (p) => ((p.sites[1].a as unknown as { format: string }).format = 'fp16'), /format: "fp16" is not one of/],
    ['MXFP4 with 8 bits', (p) => (p.sites[1].a = { ...fmtOp('mxfp4'), bits: 8 }), /set bits to 4/],
    ['NF4 on activations', (p) => (p.sites[1].a = fmtOp('nf4')), /weight format/],
    ['NF4 on k of q·kᵀ', (p) => (p.sites[2].b = fmtOp('nf4')), /weight format/],
    [
      'FP8 per-group',
      (p) => (p.sites[1].b = { ...fmtOp('fp8_e4m3'), granularity: 'group', groupSize: 32 }),
      /per-tensor scale; use 'tensor'/,
    ],
    ['MXFP4 blocks of 16', (p) => (p.sites[1].b = { ...fmtOp('mxfp4'), groupSize: 16 }), /groupSize 32/],
    ['NVFP4 asymmetric', (p) => (p.sites[1].b = { ...fmtOp('nvfp4'), symmetric: false }), /symmetric to true/],
    ['FP8 static', (p) => (p.sites[1].a = { ...fmtOp('fp8_e4m3'), range: 'static' }), /static ranges are offered for INT/],
    [
      'format + GPTQ',
      (p) => ((p.sites[1].b = fmtOp('mxfp4')), (p.sites[1].gptq = { actOrder: false, damp: 0.01 })),
      /GPTQ, LLM.int8\(\) and SmoothQuant run on the INT grid/,
    ],
    ['rotation at q·kᵀ', (p) => (p.sites[2].rotation = { seed: 1 }), /offered at to_qkv, fc1 .* not at qk/],
    ['rotation at to_out', (p) => (p.sites[4].rotation = { seed: 1 }), /not at to_out/],
    ['rotation seed −1', (p) => (p.sites[1].rotation = { seed: -1 }), /seed must be an integer/],
    [
      'rotation + SmoothQuant',
      (p) => (
        (p.sites[1].rotation = { seed: 1 }), (p.sites[1].a.bits = 8), (p.sites[1].b.bits = 8), (p.sites[1].smoothquant = { alpha: 0.5 })
      ),
      /combining the rotation with SmoothQuant/,
    ],
  ];
  for (const [name, edit, msg] of bad) {
    it(`rejects ${name} with a named error`, () => {
      const p = fp32Plan();
      edit(p);
      expect(() => validatePlan(JSON.parse(JSON.stringify(p)))).toThrow(PlanError);
      expect(() => validatePlan(JSON.parse(JSON.stringify(p)))).toThrow(msg);
    });
  }

  it('the path says fake-quant for format GEMMs and decode-into-FP32 for format weights', () => {
    const p = formatPlan('mxfp4');
    expect(sitePath(p.sites[1], true)).toMatchObject({ path: 'fake-quant' });
    expect(sitePath(p.sites[1], true).reason).toMatch(/MXFP4 \(E2M1\) × MXFP4 \(E2M1\): no GEMM of ours/);
    const n = formatPlan('nf4');
    expect(sitePath(n.sites[1], true)).toMatchObject({ path: 'weight-only' });
    expect(sitePath(n.sites[1], true).reason).toMatch(/NF4 weights decoded once \(by lookup table\)/);
    expect(sitePath(withRotation(fp32Plan()).sites[1], true).reason).toMatch(/Hadamard-rotated/);
  });
});

describe('UI scheme fitting and the URL', () => {
  it('fitSite keeps a format coherent: block layout set, NF4 dropped off activations, rotation only where offered', () => {
    const s = fitSite(
      {
        a: { bits: 4, granularity: 'token', symmetric: false, range: 'static', format: 'mxfp4' },
        b: { bits: 8, granularity: 'channel', symmetric: true, range: 'dynamic', format: 'nf4' },
        rotation: { seed: 2 },
      },
      true,
      'fc1',
    );
    expect(s.a).toEqual(fmtOp('mxfp4'));
    expect(s.b).toEqual(fmtOp('nf4'));
    expect(s.rotation).toEqual({ seed: 2 });
    const q = fitSite({ a: fmtOp('nf4'), b: fmtOp('nf4'), rotation: { seed: 2 } }, false, 'qk');
    expect(q.a.format).toBeUndefined();
    expect(q.b.format).toBeUndefined();
    expect(q.rotation).toBeUndefined();
    expect(bitsTag(formatPlan('nvfp4').sites[1], true)).toBe('AN4·WN4');
    expect(bitsTag(withRotation(fp32Plan()).sites[1], true)).toBe('FP32·R');
  });

  it('a plan with formats and rotation round-trips through the link; a bad format in a link is a readable error', () => {
    const c = { ...defaultConfig(), plan: withRotation(formatPlan('nvfp4'), 5) };
    c.plan.sites[2] = { a: fmtOp('fp8_e5m2'), b: fmtOp('mxfp8') };
    const r = decodeConfig(encodeConfig(c));
    expect(r.ok && r.config.plan).toEqual(c.plan);
    const bad = structuredClone(c.plan);
    (bad.sites[3].a as unknown as { format: string }).format = 'fp7';
    const r2 = decodeConfig(encodeConfig({ ...c, plan: bad }));
    expect(r2.ok).toBe(false);
    expect(!r2.ok && r2.error).toMatch(/plan.sites\[3\].a.format: "fp7" is not one of int, fp8_e4m3/);
  });
});
