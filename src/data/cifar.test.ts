import { describe, expect, it } from 'vitest';
import { DataError, IMAGE_BYTES, loadEvalSet, parseCifarBatch, RECORD_BYTES, type FileReader } from './cifar';
import { loadDataNode } from '../runtime/nodeLoad';

function records(labels: number[]): Uint8Array {
  const b = new Uint8Array(labels.length * RECORD_BYTES);
  labels.forEach((l, i) => {
    b[i * RECORD_BYTES] = l;
    b.fill(i + 1, i * RECORD_BYTES + 1, (i + 1) * RECORD_BYTES);
  });
  return b;
}

describe('CIFAR-10 reader', () => {
  it('parses records, labels and pixel planes', () => {
    const s = parseCifarBatch(records([3, 9, 0]), 'x.bin');
    expect(s.count).toBe(3);
    expect(Array.from(s.labels)).toEqual([3, 9, 0]);
    expect(s.pixels[IMAGE_BYTES]).toBe(2);
  });
  it('takes a slice of records', () => {
    const s = parseCifarBatch(records([1, 2, 3, 4]), 'x.bin', 2, 2);
    expect(Array.from(s.labels)).toEqual([3, 4]);
  });
  it.each([
    ['wrong size', new Uint8Array(RECORD_BYTES + 5), /whole number/],
    ['empty file', new Uint8Array(0), /empty/],
    ['bad label', records([1, 12]), /label 12/],
  ])('%s → clear error', (_n, bytes, msg) => {
    expect(() => parseCifarBatch(bytes, 'x.bin')).toThrow(msg);
    expect(() => parseCifarBatch(bytes, 'x.bin')).toThrow(DataError);
  });
  it('missing file → DataError saying what to do', async () => {
    const read: FileReader = async () => {
      throw new Error('ENOENT');
    };
    await expect(loadEvalSet(read, 'test')).rejects.toThrow(/not prepared/);
    await expect(loadEvalSet(read, 'test')).rejects.toHaveProperty('fix', expect.stringMatching(/npm run data/));
  });
  it('the prepared eval sets: test (official prefix) and val (5000 held out)', async () => {
    const d = await loadDataNode(['test', 'val']);
    expect(d.test.count).toBeGreaterThanOrEqual(1000);
    expect(d.val!.count).toBe(5000);
    // the first official test image is a cat (label 3), the second a ship (8)
    expect(Array.from(d.test.labels.subarray(0, 2))).toEqual([3, 8]);
  });
});
