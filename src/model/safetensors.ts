/** Minimal safetensors reader (F32 tensors), with clear errors for corrupt or mismatched files. */
export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export class ModelError extends Error {
  constructor(message: string, readonly fix = 'Train and export the model (tools/train/train.py) or restore public/models/ from git.') {
    super(message);
    this.name = 'ModelError';
  }
}

export function parseSafetensors(bytes: Uint8Array, name = 'model.safetensors'): Map<string, Tensor> {
  if (bytes.length < 8) throw new ModelError(`${name}: ${bytes.length} bytes — too short to be a safetensors file`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(dv.getBigUint64(0, true));
  if (headerLen <= 0 || 8 + headerLen > bytes.length) throw new ModelError(`${name}: header length ${headerLen} exceeds the file (${bytes.length} bytes): corrupt file`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  } catch {
    throw new ModelError(`${name}: header is not JSON (corrupt file, or a Git LFS pointer instead of the weights)`);
  }
  const base = 8 + headerLen;
  const out = new Map<string, Tensor>();
  for (const [key, t] of Object.entries(header)) {
    if (key === '__metadata__') continue;
    if (t.dtype !== 'F32') throw new ModelError(`${name}: tensor ${key} has dtype ${t.dtype}; only F32 is supported`);
    const [a, b] = t.data_offsets;
    const count = t.shape.reduce((p, d) => p * d, 1);
    if (b - a !== count * 4 || base + b > bytes.length) throw new ModelError(`${name}: tensor ${key} data out of bounds (truncated file?)`);
    // copy: the source offset need not be 4-byte aligned
    const data = new Float32Array(count);
    new Uint8Array(data.buffer).set(bytes.subarray(base + a, base + b));
    out.set(key, { shape: t.shape, data });
  }
  return out;
}
