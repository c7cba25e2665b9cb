/**
 * WGSL composed from shared pieces instead of copied files (as ONNX Runtime Web's WebGPU ops do):
 *  - `//#include <name>` pulls a piece of the common library (shaders/lib/<name>.wgsl: gelu,
 *    finiteness, the sticky NaN flag, the 4×int8 dot product, batch offsets) — each defined once;
 *  - `#if FLAG` / `#else` / `#endif` lines choose a variant by parameter (e.g. VEC4 loads), so a
 *    scalar kernel and its vec4 twin are one file;
 *  - `//#uniforms` is replaced by the struct of a UniformLayout, which also writes the buffer:
 *    a uniform's fields are declared once, in TypeScript.
 */
import gelu from '../../shaders/lib/gelu.wgsl?raw';
import finite from '../../shaders/lib/finite.wgsl?raw';
import batchBases from '../../shaders/lib/batch_bases.wgsl?raw';
import nonfiniteFlag from '../../shaders/lib/nonfinite_flag.wgsl?raw';
import dot4Packed from '../../shaders/lib/dot4_packed.wgsl?raw';
import dot4Unpacked from '../../shaders/lib/dot4_unpacked.wgsl?raw';
import epilogue from '../../shaders/lib/epilogue.wgsl?raw';
import { createUniform } from '../gpu/buffers';
import type { GpuContext } from '../gpu/device';
import { KernelError } from './common';

export const WGSL_LIBRARY: Record<string, string> = {
  gelu,
  finite,
  batch_bases: batchBases,
  nonfinite_flag: nonfiniteFlag,
  dot4_packed: dot4Packed,
  dot4_unpacked: dot4Unpacked,
  epilogue,
};

export type UniformType = 'u32' | 'i32' | 'f32';

/**
 * A uniform struct declared once: its WGSL text and the buffer holding values for it. Fields are
 * 32-bit; the struct is padded to a multiple of 16 bytes (uniform layout rules).
 */
export class UniformLayout<F extends string> {
  readonly names: F[];
  constructor(
    readonly struct: string,
    readonly fields: readonly (readonly [F, UniformType])[],
  ) {
    this.names = fields.map((f) => f[0]);
    const seen = new Set<string>();
    for (const [n] of fields) {
      if (seen.has(n)) throw new KernelError(`UniformLayout ${struct}: field ${n} declared twice`);
      seen.add(n);
    }
  }

  /** padded field count (multiple of 4 words) */
  get words(): number {
    return Math.max(4, Math.ceil(this.fields.length / 4) * 4);
  }

  wgsl(): string {
    const lines = this.fields.map(([n, t]) => `  ${n}: ${t},`);
    for (let i = this.fields.length; i < this.words; i++) lines.push(`  _pad${i}: u32,`);
    return `struct ${this.struct} {\n${lines.join('\n')}\n}`;
  }

  /** A uniform buffer with these values (every field required; unknown names refused). */
  create(ctx: GpuContext, values: Record<F, number>, label: string): GPUBuffer {
    for (const k of Object.keys(values))
      if (!this.names.includes(k as F)) throw new KernelError(`${label}: ${k} is not a field of ${this.struct}`);
    const words = this.fields.map(([n]) => {
      const v = values[n];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new KernelError(`${label}: field ${n} = ${v}`);
      return v;
    });
    return createUniform(ctx, words, this.fields.map(([, t]) => t[0]).join(''), label);
  }
}

export interface ComposeOptions {
  /** `#if NAME` blocks kept when flags[NAME] is true */
  flags?: Record<string, boolean>;
  /** replaces the `//#uniforms` line */
  uniforms?: UniformLayout<string>;
}

/** The WGSL of `source` with its includes, variant blocks and uniform struct resolved. */
export function composeWgsl(source: string, opts: ComposeOptions = {}): string {
  const out: string[] = [];
  // one entry per open #if: whether its current branch is emitted
  const stack: { on: boolean }[] = [];
  const emitting = () => stack.every((s) => s.on);
  const included = new Set<string>();
  const lines = source.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const t = line.trim();
    const where = `line ${i + 1}`;
    let m: RegExpMatchArray | null;
    if ((m = t.match(/^#if\s+(!?)([A-Z0-9_]+)$/))) {
      const v = !!opts.flags?.[m[2]];
      stack.push({ on: m[1] ? !v : v });
    } else if (t === '#else') {
      const top = stack.at(-1);
      if (!top) throw new KernelError(`composeWgsl: #else without #if (${where})`);
      top.on = !top.on;
    } else if (t === '#endif') {
      if (!stack.pop()) throw new KernelError(`composeWgsl: #endif without #if (${where})`);
    } else if (t.startsWith('#')) {
      throw new KernelError(`composeWgsl: unknown directive '${t}' (${where})`);
    } else if (!emitting()) {
      continue;
    } else if ((m = t.match(/^\/\/#include\s+([a-z0-9_]+)$/))) {
      const piece = WGSL_LIBRARY[m[1]];
      if (piece === undefined) throw new KernelError(`composeWgsl: no library piece '${m[1]}' (${where})`);
      if (!included.has(m[1])) out.push(piece.trimEnd());
      included.add(m[1]);
    } else if (t === '//#uniforms') {
      if (!opts.uniforms) throw new KernelError(`composeWgsl: the shader wants //#uniforms but no layout was given (${where})`);
      out.push(opts.uniforms.wgsl());
    } else out.push(line);
  }
  if (stack.length) throw new KernelError('composeWgsl: #if without #endif');
  return out.join('\n');
}
