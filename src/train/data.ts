/**
 * Training images and seeded batches for QAT: the 45,000 training records (data_batch_1..4 and the
 * first 5000 of data_batch_5 — the last 5000 are the validation set and never trained on), read
 * through the same FileReader as the eval sets (fetch in the browser, fs in Node).
 */
import { DataError, IMAGE_BYTES, parseCifarBatch, type FileReader, type ImageSet } from '../data/cifar';
import { uniformStream } from './trainer';

export const TRAIN_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];

/** `limit` caps the images read (the browser demo reads one file: 10,000 images). */
export async function loadTrainImages(read: FileReader, limit = 45000): Promise<ImageSet> {
  const parts: ImageSet[] = [];
  let have = 0;
  for (const f of TRAIN_FILES) {
    if (have >= limit) break;
    let bytes: Uint8Array;
    try {
      bytes = await read(f);
    } catch (e) {
      throw new DataError(`CIFAR-10 training file ${f} is missing (${(e as Error).message})`);
    }
    const inFile = f === 'data_batch_5.bin' ? 5000 : bytes.length / 3073;
    const n = Math.min(inFile, limit - have);
    parts.push(parseCifarBatch(bytes, f, 0, n));
    have += n;
  }
  const pixels = new Uint8Array(have * IMAGE_BYTES);
  const labels = new Uint8Array(have);
  let o = 0;
  for (const p of parts) {
    pixels.set(p.pixels, o * IMAGE_BYTES);
    labels.set(p.labels, o);
    o += p.count;
  }
  return { name: 'train', count: have, pixels, labels };
}

/**
 * The images and augmentation stream of training step `step` (1-based): a function of (seed, step)
 * only, so a run resumed from a checkpoint draws the very batches it would have drawn. Images are
 * drawn uniformly with replacement.
 */
export function stepBatch(seed: number, step: number, batch: number, count: number): { idx: Int32Array; rnd: () => number } {
  const rnd = uniformStream((Math.imul(seed >>> 0, 1000003) + step) >>> 0);
  const idx = new Int32Array(batch);
  for (let i = 0; i < batch; i++) idx[i] = Math.floor(rnd() * count);
  return { idx, rnd };
}
