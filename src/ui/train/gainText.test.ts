import { describe, expect, it } from 'vitest';
import { pairedDelta } from '../../quant/intervals';
import { gainText } from './TrainView';

describe('Train view: the gain over step 0 is paired on the same images', () => {
  it('names the paired Δ with its interval, and "within noise" when the interval holds 0', () => {
    const n = 200;
    const start = new Uint8Array(n).map((_, i) => (i < 120 ? 1 : 0));
    const better = new Uint8Array(n).map((_, i) => (i < 150 ? 1 : 0)); // 30 images fixed, none broken
    const t = gainText(pairedDelta(start, better));
    expect(t).toMatch(/^Δ vs step 0: \+15\.0 pp \[\+\d+\.\d, \+\d+\.\d\] paired on 200 images\.$/);
    const same = new Uint8Array(n).map((_, i) => (i < 121 && i !== 5 ? 1 : 0)); // one fixed, one broken
    expect(gainText(pairedDelta(start, same))).toMatch(/\+0\.0 pp \[−\d+\.\d, \+\d+\.\d\] paired on 200 images — within noise\.$/);
  });
});
