import { describe, expect, it } from 'vitest';
import { packInt4Rows, packInt8Rows, unpackInt4Rows, unpackInt8Rows } from './pack';

describe('packing layouts', () => {
  it('int8: lane i of word w holds element 4w+i', () => {
    expect(Array.from(packInt8Rows([1, -1, 127, -128, 5], 1, 5))).toEqual([0x807fff01, 5]);
  });
  it('int4: lane j of word w holds element 8w+j', () => {
    expect(Array.from(packInt4Rows([1, -1, 7, -8, 0, 0, 0, 0, 3], 1, 9))).toEqual([0x87f1, 3]);
  });
  it('round-trips random rows with odd K', () => {
    for (const k of [1, 3, 5, 9, 17, 33]) {
      const rows = 3;
      const v8 = Array.from({ length: rows * k }, (_, i) => ((i * 37) % 256) - 128);
      const v4 = Array.from({ length: rows * k }, (_, i) => ((i * 5) % 16) - 8);
      expect(Array.from(unpackInt8Rows(packInt8Rows(v8, rows, k), rows, k))).toEqual(v8);
      expect(Array.from(unpackInt4Rows(packInt4Rows(v4, rows, k), rows, k))).toEqual(v4);
    }
  });
  it('rejects out-of-range values', () => {
    expect(() => packInt8Rows([128], 1, 1)).toThrow(/int8/);
    expect(() => packInt4Rows([8], 1, 1)).toThrow(/int4/);
    expect(() => packInt4Rows([0.5], 1, 1)).toThrow(/int4/);
  });
});
