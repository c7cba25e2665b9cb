/**
 * The one product training needs, in both directions: Y[m×n] = op(A)·op(B)ᵀ, where A is stored
 * [m×k] (or [k×m] when aT) and B is stored [n×k] (or [k×n] when bT). Forward products use
 * aT = bT = false; the backward's dX = dY·W and dW = dYᵀ·X are the transposed cases.
 *
 * Two implementations: the WASM SIMD FP32 GEMM of the CPU backend (asm/kernels.ts gemm_f32 /
 * pack_b_f32 / transpose32 through src/cpu/cpuKernels.ts — the same code that runs inference),
 * and plain TypeScript (the reference, and the fallback where the wasm does not load).
 */
import { isWasmKernels, roundUp, type CpuKernels } from '../cpu/cpuKernels';

export interface MatMul {
  readonly impl: 'wasm-simd' | 'typescript';
  /** out (fresh when absent) = op(A)·op(B)ᵀ (+ bias per column) */
  mm(
    a: Float32Array,
    aT: boolean,
    b: Float32Array,
    bT: boolean,
    m: number,
    n: number,
    k: number,
    bias?: Float32Array | null,
    out?: Float32Array,
  ): Float32Array;
}

function check(a: Float32Array, b: Float32Array, m: number, n: number, k: number) {
  if (a.length !== m * k) throw new RangeError(`mm: A has ${a.length} values, expected ${m}×${k}`);
  if (b.length !== n * k) throw new RangeError(`mm: B has ${b.length} values, expected ${n}×${k}`);
}

export const tsMatMul: MatMul = {
  impl: 'typescript',
  mm(a, aT, b, bT, m, n, k, bias, out) {
    check(a, b, m, n, k);
    const y = out ?? new Float32Array(m * n);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = bias ? bias[j] : 0;
        for (let p = 0; p < k; p++) s += (aT ? a[p * m + i] : a[i * k + p]) * (bT ? b[p * n + j] : b[j * k + p]);
        y[i * n + j] = s;
      }
    return y;
  },
};

/** The wasm GEMM when `kernels` is the wasm implementation, else the TypeScript one. */
export function matMulFor(kernels: CpuKernels): MatMul {
  if (!isWasmKernels(kernels)) return tsMatMul;
  const ex = kernels.ex;
  const ar = kernels.arena;
  return {
    impl: 'wasm-simd',
    mm(a, aT, b, bT, m, n, k, bias, out) {
      check(a, b, m, n, k);
      const y = out ?? new Float32Array(m * n);
      if (m * n === 0) return y;
      if (k === 0) {
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) y[i * n + j] = bias ? bias[j] : 0;
        return y;
      }
      ar.scoped(() => {
        let pa = ar.putF32(a);
        if (aT) {
          const t = ar.alloc(m * k * 4);
          ex.transpose32(pa, k, m, t, k); // stored [k×m] → [m×k]
          pa = t;
        }
        let pb = ar.putF32(b);
        if (bT) {
          const t = ar.alloc(n * k * 4);
          ex.transpose32(pb, k, n, t, k);
          pb = t;
        }
        const wp = ar.alloc(roundUp(n, 8) * k * 4);
        ex.pack_b_f32(pb, n, k, wp);
        const pbias = bias ? ar.putF32(bias) : 0;
        const py = ar.alloc(m * n * 4);
        ex.gemm_f32(pa, wp, pbias, py, m, n, k, 0, 0);
        y.set(ar.f32(py, m * n));
      });
      return y;
    },
  };
}
