import { describe, expect, it } from 'vitest';
import { ArgError, parseArgs } from './args';
import { builtinPlan, parseProgressive, type ProgressiveArgs } from './qatArgs';

const P = (progressive?: string, sw?: number, more: Omit<ProgressiveArgs, 'progressive' | 'switch'> = {}): ProgressiveArgs => ({
  progressive,
  switch: sw,
  ...more,
});

describe('npm run qat arguments', () => {
  const int2 = builtinPlan('all-int2')!;
  it('built-in plans', () => {
    expect(builtinPlan('all-int4')!.sites.every((s) => s.a.bits === 4 && s.b.bits === 4)).toBe(true);
    expect(int2.sites.length).toBe(38);
    expect(builtinPlan('nope')).toBeUndefined();
  });
  it('--progressive 4,2 --switch k', () => {
    expect(parseProgressive(P('4,2', 50), int2, 100)).toEqual({ from: 4, to: 2, at: 50, init: 'carry' });
    expect(parseProgressive(P(undefined, undefined), int2, 100)).toBeUndefined();
  });
  it('site by site (note 004): --per-site e, sensitivity order and MSE ranges by default', () => {
    expect(parseProgressive(P('4,2', 50, { 'per-site': 10 }), int2, 500)).toEqual({
      from: 4,
      to: 2,
      at: 50,
      perSite: 10,
      order: 'sensitivity',
      init: 'mse',
    });
    expect(parseProgressive(P('4,2', 0, { 'per-site': 2, order: 'index', 'switch-init': 'carry' }), int2, 100)).toMatchObject({
      order: 'index',
      init: 'carry',
    });
    // 38 sites from step 50, one every 10: the last at 420
    expect(() => parseProgressive(P('4,2', 50, { 'per-site': 10 }), int2, 420)).toThrowError(
      /switch from step 50 to 420, past the last step/,
    );
    expect(() => parseProgressive(P('4,2', 50, { order: 'index' }), int2, 500)).toThrowError(/needs --per-site/);
    expect(() => parseProgressive(P(undefined, undefined, { 'per-site': 3 }), int2, 500)).toThrowError(/--per-site needs --progressive/);
  });
  it('bad schedules are refused with the reason', () => {
    expect(() => parseProgressive(P('4-2', 5), int2, 100)).toThrowError(/--progressive: '4-2' is not 'from,to'/);
    expect(() => parseProgressive(P('2,4', 5), int2, 100)).toThrowError(/from more bits to fewer/);
    expect(() => parseProgressive(P('4,2', undefined), int2, 100)).toThrowError(/needs --switch k/);
    expect(() => parseProgressive(P('4,2', 200), int2, 100)).toThrowError(/--switch 200 is after the last step/);
    expect(() => parseProgressive(P(undefined, 5), int2, 100)).toThrowError(ArgError);
    expect(() => parseProgressive(P('8,4', 5), int2, 100)).toThrowError(/no 4-bit operand/);
  });
  it('numbers are checked by args.ts', () => {
    expect(() => parseArgs(['--steps', 'ten'], { steps: { int: [0, 100000] } })).toThrowError(/--steps: 'ten' is not a number/);
  });
});
