/**
 * CIFAR-10 binary layout (browser and Node): records of 1 label byte + 3072 pixel bytes
 * (R, G, B planes of 32×32, row-major). Eval sets as prepared by `npm run data`
 * (public/data/cifar10/manifest.json): `test` = the official test images present,
 * `val` = the last 5000 records of data_batch_5 (held out from training).
 */
export const RECORD_BYTES = 3073;
export const IMAGE_BYTES = 3072;
export const CLASS_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

export interface ImageSet {
  name: string;
  count: number;
  /** count × 3072 bytes, CHW planes */
  pixels: Uint8Array;
  labels: Uint8Array;
}

export class DataError extends Error {
  constructor(
    message: string,
    readonly fix = 'Run `npm run data` (copies CIFAR-10 from CIFAR10_DIR or ../shared/data/cifar10).',
  ) {
    super(message);
    this.name = 'DataError';
  }
}

/** Parse records [first, first+count) of a CIFAR-10 batch file. */
export function parseCifarBatch(bytes: Uint8Array, name: string, first = 0, count?: number): ImageSet {
  if (bytes.length === 0) throw new DataError(`${name}: empty file`);
  if (bytes.length % RECORD_BYTES !== 0)
    throw new DataError(`${name}: ${bytes.length} bytes is not a whole number of ${RECORD_BYTES}-byte records (corrupt or truncated file)`);
  const total = bytes.length / RECORD_BYTES;
  const n = count ?? total - first;
  if (first < 0 || n < 0 || first + n > total)
    throw new DataError(`${name}: records ${first}..${first + n} out of range (file has ${total})`);
  const pixels = new Uint8Array(n * IMAGE_BYTES);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const o = (first + i) * RECORD_BYTES;
    const label = bytes[o];
    if (label > 9) throw new DataError(`${name}: record ${first + i} has label ${label} (expected 0..9; corrupt file)`);
    labels[i] = label;
    pixels.set(bytes.subarray(o + 1, o + RECORD_BYTES), i * IMAGE_BYTES);
  }
  return { name, count: n, pixels, labels };
}

export interface DataManifest {
  test: { file: string; count: number; note: string };
  val: { file: string; first: number; count: number; note: string };
  calib: { file: string; count: number; note: string };
  classes: string[];
}

/** Reads a file of the prepared data folder: fetch in the browser, fs in Node. */
export type FileReader = (name: string) => Promise<Uint8Array>;

export async function loadManifest(read: FileReader): Promise<DataManifest> {
  let bytes: Uint8Array;
  try {
    bytes = await read('manifest.json');
  } catch (e) {
    throw new DataError(`CIFAR-10 is not prepared (${(e as Error).message})`);
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as DataManifest;
  } catch {
    throw new DataError('public/data/cifar10/manifest.json is not valid JSON (corrupt file)');
  }
}

export async function loadEvalSet(read: FileReader, set: 'test' | 'val' | 'calib', manifest?: DataManifest): Promise<ImageSet> {
  const m = manifest ?? (await loadManifest(read));
  const entry = m[set];
  let bytes: Uint8Array;
  try {
    bytes = await read(entry.file);
  } catch (e) {
    throw new DataError(`CIFAR-10 file ${entry.file} is missing (${(e as Error).message})`);
  }
  const first = set === 'val' ? m.val.first : 0;
  return parseCifarBatch(bytes, entry.file, first, entry.count);
}

/** Browser reader: files under <base>/data/cifar10/. */
export function fetchReader(base = '/data/cifar10/'): FileReader {
  return async (name) => {
    const res = await fetch(base + name);
    if (!res.ok) throw new Error(`HTTP ${res.status} for ${base + name}`);
    const ct = res.headers.get('content-type') ?? '';
    // Vite's dev server answers unknown paths with index.html: treat that as missing.
    if (ct.includes('text/html')) throw new Error(`${base + name} not found`);
    return new Uint8Array(await res.arrayBuffer());
  };
}
