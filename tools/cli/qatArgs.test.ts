import { describe, expect, it } from 'vitest';
import { ArgError, parseArgs } from './args';
import { builtinPlan, parseProgressive } from './qatArgs';

describe('npm run qat arguments', () => {
  const int2 = builtinPlan('all-int2')!;
  it('built-in plans', () => {
    expect(builtinPlan('all-int4')!.sites.every((s) => s.a.bits === 4 && s.b.bits === 4)).toBe(true);
    expect(int2.sites.length).toBe(38);
    expect(builtinPlan('nope')).toBeUndefined();
  });
  it('--progressive 4,2 --switch k', () => {
    expect(parseProgressive('4,2', 50, int2, 100)).toEqual({ from: 4, to: 2, at: 50 });
    expect(parseProgressive(undefined, undefined, int2, 100)).toBeUndefined();
  });
  it('bad schedules are refused with the reason', () => {
    expect(() => parseProgressive('4-2', 5, int2, 100)).toThrowError(/--progressive: '4-2' is not 'from,to'/);
    expect(() => parseProgressive('2,4', 5, int2, 100)).toThrowError(/from more bits to fewer/);
    expect(() => parseProgressive('4,2', undefined, int2, 100)).toThrowError(/needs --switch k/);
    expect(() => parseProgressive('4,2', 200, int2, 100)).toThrowError(/--switch 200 is after the last step/);
    expect(() => parseProgressive(undefined, 5, int2, 100)).toThrowError(ArgError);
    expect(() => parseProgressive('8,4', 5, int2, 100)).toThrowError(/no 4-bit operand/);
  });
  it('numbers are checked by args.ts', () => {
    expect(() => parseArgs(['--steps', 'ten'], { steps: { int: [0, 100000] } })).toThrowError(/--steps: 'ten' is not a number/);
  });
});
