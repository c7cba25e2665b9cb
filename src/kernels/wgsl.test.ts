/**
 * WGSL composition (wgsl.ts): variants by parameter, library pieces included once, uniform structs
 * emitted from their one TypeScript declaration — and every shipped shader composes for every
 * variant into WGSL that Dawn compiles (mutation caught: a piece missing from the library, an
 * unbalanced #if, a flag spelled differently in the shader and the wrapper).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device';
import { nodeGpuContext } from '../gpu/nodeGpu';
import { composeWgsl, UniformLayout, WGSL_LIBRARY } from './wgsl';
import { GEMM_F32_PARAMS } from './gemmF32';
import { GEMM_W8A8_PARAMS } from './gemmW8A8';
import { GEMM_W4A8_PARAMS } from './gemmW4A8';

describe('composeWgsl', () => {
  it('keeps the branch its flags choose, nested', () => {
    const src = ['a', '#if X', 'x', '#if !Y', 'x-not-y', '#else', 'x-y', '#endif', '#else', 'not-x', '#endif', 'b'].join('\n');
    expect(composeWgsl(src, { flags: { X: true } }).split('\n')).toEqual(['a', 'x', 'x-not-y', 'b']);
    expect(composeWgsl(src, { flags: { X: true, Y: true } }).split('\n')).toEqual(['a', 'x', 'x-y', 'b']);
    expect(composeWgsl(src).split('\n')).toEqual(['a', 'not-x', 'b']);
  });
  it('includes a library piece once, only in an emitted branch', () => {
    const out = composeWgsl('//#include gelu\n//#include gelu\n#if NO\n//#include finite\n#endif');
    expect(out.match(/fn gelu/g)).toHaveLength(1);
    expect(out).not.toContain('fn finite');
  });
  it('refuses what it does not know, naming the line', () => {
    expect(() => composeWgsl('//#include nope')).toThrow(/no library piece 'nope' \(line 1\)/);
    expect(() => composeWgsl('#if A\nx')).toThrow(/#if without #endif/);
    expect(() => composeWgsl('#endif')).toThrow(/#endif without #if/);
    expect(() => composeWgsl('#ifdef A')).toThrow(/unknown directive/);
    expect(() => composeWgsl('//#uniforms')).toThrow(/no layout/);
  });
});

describe('UniformLayout', () => {
  it('emits the struct padded to 16 bytes and refuses unknown or missing fields', () => {
    const l = new UniformLayout('P', [
      ['a', 'u32'],
      ['b', 'f32'],
      ['c', 'i32'],
      ['d', 'u32'],
      ['e', 'u32'],
    ] as const);
    expect(l.words).toBe(8);
    expect(l.wgsl()).toBe(
      'struct P {\n  a: u32,\n  b: f32,\n  c: i32,\n  d: u32,\n  e: u32,\n  _pad5: u32,\n  _pad6: u32,\n  _pad7: u32,\n}',
    );
    expect(
      () =>
        new UniformLayout('Q', [
          ['a', 'u32'],
          ['a', 'u32'],
        ] as const),
    ).toThrow(/declared twice/);
  });
});

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await nodeGpuContext();
});
afterAll(() => ctx?.destroy());

/** every flag combination of a shader (the names its #if lines use) */
function variants(src: string): Record<string, boolean>[] {
  const names = [...new Set([...src.matchAll(/^#if\s+!?([A-Z0-9_]+)$/gm)].map((m) => m[1]))];
  return Array.from({ length: 1 << names.length }, (_, bits) => Object.fromEntries(names.map((n, i) => [n, !!(bits & (1 << i))])));
}

const UNIFORMS: Record<string, UniformLayout<string>> = {
  'gemm_f32.wgsl': GEMM_F32_PARAMS,
  'gemm_w8a8.wgsl': GEMM_W8A8_PARAMS,
  'gemm_w4a8.wgsl': GEMM_W4A8_PARAMS,
};

describe('every shader composes and compiles in every variant', () => {
  const dir = new URL('../../shaders/', import.meta.url);
  const files = readdirSync(dir).filter((f) => f.endsWith('.wgsl') && f !== 'quant_common.wgsl');
  it.each(files)('%s', async (file) => {
    let src = readFileSync(new URL(file, dir), 'utf8');
    if (file === 'quantize_rows.wgsl') src = readFileSync(new URL('quant_common.wgsl', dir), 'utf8') + '\n' + src;
    for (const flags of variants(src)) {
      if (flags.PACKED_DOT4 && !ctx.features.packedDot4) continue;
      const code = composeWgsl(src, { flags, uniforms: UNIFORMS[file] });
      expect(code).not.toMatch(/^\s*#|\/\/#(include|uniforms)/m);
      ctx.device.pushErrorScope('validation');
      const mod = ctx.device.createShaderModule({ code, label: file });
      const info = await mod.getCompilationInfo();
      const err = await ctx.device.popErrorScope();
      const errors = info.messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}: ${m.message}`);
      expect(errors, `${file} ${JSON.stringify(flags)}`).toEqual([]);
      expect(err?.message, `${file} ${JSON.stringify(flags)}`).toBeUndefined();
    }
  });
  it('the library pieces are each used', () => {
    const all =
      files.map((f) => readFileSync(new URL(f, dir), 'utf8')).join('\n') + readFileSync(new URL('quant_common.wgsl', dir), 'utf8');
    for (const name of Object.keys(WGSL_LIBRARY)) expect(all, name).toContain(`//#include ${name}`);
  });
});
