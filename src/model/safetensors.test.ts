import { describe, expect, it } from 'vitest';
import { ModelError, parseSafetensors } from './safetensors';
import { buildWeights, validateConfig } from './vitWeights';

function file(header: object, data: Uint8Array): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

describe('safetensors reader', () => {
  it('reads F32 tensors', () => {
    const data = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);
    const t = parseSafetensors(file({ a: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } }, data));
    expect(Array.from(t.get('a')!.data)).toEqual([1, 2, 3, 4]);
  });
  it.each([
    ['too short', new Uint8Array(3), /too short/],
    [
      'Git LFS pointer',
      new TextEncoder().encode('version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n'),
      /header length|LFS/,
    ],
    ['truncated data', file({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, new Uint8Array(8)), /out of bounds/],
    ['unsupported dtype', file({ a: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } }, new Uint8Array(4)), /F16/],
  ])('%s → ModelError', (_n, bytes, msg) => {
    expect(() => parseSafetensors(bytes)).toThrow(msg);
    expect(() => parseSafetensors(bytes)).toThrow(ModelError);
  });
  it('config/weights mismatch names the tensor', () => {
    const cfg = validateConfig({ dim: 8, depth: 1, heads: 2, mlp: 16, patch: 4, classes: 10, image: 32, mean: [0, 0, 0], std: [1, 1, 1] });
    expect(() => buildWeights(cfg, new Map())).toThrow(/patch_embed.weight/);
    expect(() =>
      validateConfig({ dim: 10, depth: 1, heads: 3, mlp: 4, patch: 4, classes: 10, image: 32, mean: [0, 0, 0], std: [1, 1, 1] }),
    ).toThrow(/divisible/);
  });
});
