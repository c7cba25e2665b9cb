/** Node reader for the prepared data folder (public/data/cifar10) and model folders. */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FileReader } from './cifar';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function nodeReader(dir: string): FileReader {
  return async (name) => new Uint8Array(await readFile(join(dir, name)));
}

export const dataDir = () => process.env.QP_DATA_DIR ?? join(REPO_ROOT, 'public', 'data', 'cifar10');
/** QP_MODEL_DIR: another model folder (tests run the CLI on a corrupted copy) */
export const modelDir = (name = 'vit-cifar10') => process.env.QP_MODEL_DIR ?? join(REPO_ROOT, 'public', 'models', name);
