import { setFlagsFromString } from 'node:v8';
import { describe, expect, test } from 'vitest';
import { instantiateLoop, moduleBytes, SIMD_LOOPS, simulate } from './simdModules';

// The hand-encoded benchmark modules (npm run bench:simd) compute what their scalar model says: a
// wrong opcode, operand order or lane pairing changes run(n) and fails here.
//
// Node 20's V8 needs the flag for relaxed SIMD (shipped from Node 22). --no-liftoff: the check runs
// the optimized tier, the code the benchmark times; V8 11.3's baseline tier (Liftoff) returns a
// wrong i32x4.relaxed_dot_i8x16_i7x16_add_s (2·dot, the addend dropped) — bench:simd reports it.
// V8 flags are process-wide; this test file runs in its own worker.
setFlagsFromString('--experimental-wasm-relaxed-simd');
setFlagsFromString('--no-liftoff');

describe('bench:simd modules', () => {
  test.each(SIMD_LOOPS.map((l) => [l.id, l] as const))('%s: run(n) equals the scalar model', async (_id, loop) => {
    expect(WebAssembly.validate(moduleBytes(loop) as BufferSource)).toBe(true);
    for (const chains of [8, 12]) {
      const run = await instantiateLoop(loop, chains);
      for (const n of [0, 1, 2, 3, 17]) expect(run(n), `${chains} chains, run(${n})`).toBe(simulate(loop, n, chains));
    }
  });

  test('the models are not trivial: one step changes the value, and chains differ', () => {
    for (const loop of SIMD_LOOPS) {
      expect(simulate(loop, 1)).not.toBe(simulate(loop, 0));
      const a = loop.model(loop.init(0), loop.b, loop.c);
      const b = loop.model(loop.init(1), loop.b, loop.c);
      expect(Array.from(a)).not.toEqual(Array.from(b));
    }
  });
});
