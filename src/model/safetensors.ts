/**
 * Minimal safetensors reader (F32 tensors), with clear errors for corrupt or mismatched files:
 * every tensor must be finite, and the file's SHA-256 must match the one export.py recorded in
 * config.json — corrupt weights are refused, never scored (issue 11 item 10).
 */
export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export const RESTORE_FIX =
  'Restore the model files from git (git checkout -- public/models/vit-cifar10) or train and export again (python tools/train/train.py).';

export class ModelError extends Error {
  constructor(
    message: string,
    readonly fix = RESTORE_FIX,
  ) {
    super(message);
    this.name = 'ModelError';
  }
}

export function parseSafetensors(bytes: Uint8Array, name = 'model.safetensors'): Map<string, Tensor> {
  if (bytes.length < 8) throw new ModelError(`${name}: ${bytes.length} bytes — too short to be a safetensors file`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(dv.getBigUint64(0, true));
  if (headerLen <= 0 || 8 + headerLen > bytes.length)
    throw new ModelError(`${name}: header length ${headerLen} exceeds the file (${bytes.length} bytes): corrupt file`);
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
    checkFinite(data, `${name}: tensor ${key}`);
    out.set(key, { shape: t.shape, data });
  }
  return out;
}

/** Throws ModelError when `data` holds NaN or ±Inf, naming where and how many. */
export function checkFinite(data: Float32Array, what: string): void {
  let bad = 0;
  let first = -1;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      if (first < 0) first = i;
      bad++;
    }
  }
  if (bad)
    throw new ModelError(
      `${what} holds ${bad} non-finite value${bad > 1 ? 's' : ''} (first: ${data[first]} at index ${first}): the file is corrupt`,
    );
}

/** SHA-256 of bytes as hex, with the Web Crypto API (browsers in a secure context, workers, Node ≥ 19). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle)
    throw new ModelError(
      'cannot verify model.safetensors: the Web Crypto API is unavailable (the page is not a secure context)',
      'Open the playground over https or on localhost / 127.0.0.1.',
    );
  const digest = await subtle.digest('SHA-256', bytes as BufferSource);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Refuse a weights file whose content hash differs from the one recorded at export. */
export async function verifySha256(bytes: Uint8Array, expected: unknown, name = 'model.safetensors'): Promise<void> {
  if (typeof expected !== 'string' || !/^[0-9a-f]{64}$/.test(expected))
    throw new ModelError(
      `config.json records no valid SHA-256 of ${name} (model_safetensors_sha256), so the weights cannot be verified`,
      'Export the model again (python tools/train/train.py or tools/train/export.py records the hash), or restore public/models/vit-cifar10 from git.',
    );
  const got = await sha256Hex(bytes);
  if (got !== expected)
    throw new ModelError(
      `${name}: content hash ${got.slice(0, 12)}… differs from the ${expected.slice(0, 12)}… recorded in config.json at export: the file is corrupt or belongs to another export`,
    );
}
