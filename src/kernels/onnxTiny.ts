/**
 * Tiny single-node ONNX models built in memory, for the library yardsticks of the kernel benchmark
 * (src/kernels/yardsticks.ts): ONNX Runtime Web needs a model, and a model per shape built here
 * costs no committed files and no Python.
 *
 * API:
 *   matMulModel(k, n, b)                         → Uint8Array  Y[M,N] = A[M,K] · B[K,N] (B an initializer, M symbolic)
 *   matMulNBitsModel(k, n, q, scales, opts?)     → Uint8Array  com.microsoft MatMulNBits, bits 4, block_size 32 (default),
 *                                                  accuracy_level 4 (default), no zero_points input (→ 8)
 *   packInt4Blocks(q, n, k, block)               → Uint8Array  q[n·k + k'] ∈ [-8, 7] as ONNX Runtime lays out B:
 *                                                  [N][K/block][block/2] bytes, value + 8, element 2j in the low nibble
 *   ortDp4aRule({ features, vendor }, n, k, …)   → { dp4a, reason }  whether ONNX Runtime's WebGPU EP takes its
 *                                                  DP4A MatMulNBits path (its rule, restated)
 *
 * Only the protobuf fields these graphs need are written (onnx.proto: ModelProto, GraphProto,
 * NodeProto, AttributeProto, TensorProto, ValueInfoProto).
 */

class PB {
  private parts: number[] = [];
  varint(v: number): this {
    // non-negative integers up to 2^53
    while (v >= 0x80) {
      this.parts.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.parts.push(v);
    return this;
  }
  key(field: number, wire: 0 | 2): this {
    return this.varint(field * 8 + wire);
  }
  int(field: number, v: number): this {
    return this.key(field, 0).varint(v);
  }
  bytes(field: number, b: Uint8Array): this {
    this.key(field, 2).varint(b.length);
    for (const x of b) this.parts.push(x);
    return this;
  }
  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  msg(field: number, m: PB): this {
    return this.bytes(field, m.done());
  }
  done(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

const FLOAT = 1;
const UINT8 = 2;

function valueInfo(name: string, elemType: number, dims: (number | string)[]): PB {
  const shape = new PB();
  for (const d of dims) shape.msg(1, typeof d === 'number' ? new PB().int(1, d) : new PB().str(2, d));
  return new PB().str(1, name).msg(2, new PB().msg(1, new PB().int(1, elemType).msg(2, shape)));
}

function tensor(name: string, elemType: number, dims: number[], raw: Uint8Array): PB {
  const t = new PB();
  for (const d of dims) t.int(1, d);
  return t.int(2, elemType).str(8, name).bytes(9, raw);
}

function f32Bytes(a: Float32Array): Uint8Array {
  // raw_data is little-endian; every platform a browser runs on is
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

function model(node: PB, inits: PB[], inputs: PB[], outputs: PB[], msDomain: boolean): Uint8Array {
  const g = new PB().msg(1, node).str(2, 'g');
  for (const i of inits) g.msg(5, i);
  for (const i of inputs) g.msg(11, i);
  for (const o of outputs) g.msg(12, o);
  const m = new PB().int(1, 8).msg(8, new PB().str(1, '').int(2, 17));
  if (msDomain) m.msg(8, new PB().str(1, 'com.microsoft').int(2, 1));
  return m.str(2, 'quantization-playground').msg(7, g).done();
}

/** Y[M,N] = A[M,K] · B[K,N]; B (row-major K×N) is an initializer; M is symbolic. */
export function matMulModel(k: number, n: number, b: Float32Array): Uint8Array {
  if (b.length !== k * n) throw new Error(`matMulModel: B has ${b.length} values, expected ${k}·${n}`);
  const node = new PB().str(1, 'A').str(1, 'B').str(2, 'Y').str(3, 'mm').str(4, 'MatMul');
  return model(
    node,
    [tensor('B', FLOAT, [k, n], f32Bytes(b))],
    [valueInfo('A', FLOAT, ['M', k])],
    [valueInfo('Y', FLOAT, ['M', n])],
    false,
  );
}

/** Packs signed 4-bit weights q (n rows of k, values in [-8, 7]) the way MatMulNBits reads B. */
export function packInt4Blocks(q: Int8Array, n: number, k: number, block: number): Uint8Array {
  if (k % block || block % 2) throw new Error(`packInt4Blocks: K = ${k} must be a multiple of the (even) block ${block}`);
  if (q.length !== n * k) throw new Error(`packInt4Blocks: ${q.length} values, expected ${n}·${k}`);
  const out = new Uint8Array((n * k) / 2);
  for (let i = 0; i < n * k; i += 2) {
    const lo = q[i] + 8,
      hi = q[i + 1] + 8;
    if (lo < 0 || lo > 15 || hi < 0 || hi > 15) throw new Error(`packInt4Blocks: value out of [-8, 7] at ${i}`);
    out[i >> 1] = lo | (hi << 4);
  }
  return out;
}

export interface NBitsOptions {
  block?: number;
  accuracyLevel?: number;
}

/**
 * com.microsoft MatMulNBits: Y[M,N] = A[M,K] · Wᵀ with W[n,k] = scales[n·K/block + k/block] · q[n·k + k]
 * (q signed 4-bit, zero point 8 implied). q and scales are initializers.
 */
export function matMulNBitsModel(k: number, n: number, q: Int8Array, scales: Float32Array, opts: NBitsOptions = {}): Uint8Array {
  const block = opts.block ?? 32;
  const blocks = k / block;
  if (scales.length !== n * blocks) throw new Error(`matMulNBitsModel: ${scales.length} scales, expected ${n}·${blocks}`);
  const packed = packInt4Blocks(q, n, k, block);
  const attr = (name: string, v: number) => new PB().str(1, name).int(3, v).int(20, 2);
  const node = new PB().str(1, 'A').str(1, 'B').str(1, 'scales').str(2, 'Y').str(3, 'mmnb').str(4, 'MatMulNBits').str(7, 'com.microsoft');
  for (const [name, v] of [
    ['K', k],
    ['N', n],
    ['bits', 4],
    ['block_size', block],
    ['accuracy_level', opts.accuracyLevel ?? 4],
  ] as const)
    node.msg(5, attr(name, v));
  return model(
    node,
    [tensor('B', UINT8, [n, blocks, block / 2], packed), tensor('scales', FLOAT, [n * blocks], f32Bytes(scales))],
    [valueInfo('A', FLOAT, ['M', k])],
    [valueInfo('Y', FLOAT, ['M', n])],
    true,
  );
}

/**
 * ONNX Runtime's WebGPU EP runs MatMulNBits through its DP4A kernel when (CanApplyDP4AMatrixMatMulNBits,
 * contrib_ops/webgpu/quantization/dp4a_matmul_nbits.cc, with FP32 output so M does not matter):
 * accuracy_level 4, block a multiple of 32, K a multiple of 128 (and of 4), N a multiple of 16, the
 * device has the 'subgroups' feature, and the vendor is not Apple.
 */
export function ortDp4aRule(
  adapter: { features: readonly string[]; vendor: string },
  n: number,
  k: number,
  accuracyLevel = 4,
  block = 32,
): { dp4a: boolean; reason: string } {
  const why: string[] = [];
  if (accuracyLevel !== 4) why.push(`accuracy_level ${accuracyLevel} ≠ 4`);
  if (block % 32) why.push(`block ${block} not a multiple of 32`);
  if (k % 128) why.push(`K = ${k} not a multiple of 128`);
  if (n % 16) why.push(`N = ${n} not a multiple of 16`);
  if (!adapter.features.includes('subgroups')) why.push("the adapter has no 'subgroups' feature");
  if (adapter.vendor.toLowerCase() === 'apple') why.push('Apple GPUs are excluded (no native dp4a on Metal)');
  return why.length
    ? { dp4a: false, reason: `not DP4A: ${why.join('; ')}` }
    : { dp4a: true, reason: 'DP4A path (int8 dot products, activations quantized per block)' };
}
