#!/usr/bin/env node
/**
 * npm run data — prepares public/data/cifar10/ (git-ignored) for the app, the CLI and the tests.
 * Source, first found: $CIFAR10_DIR, ../shared/data/cifar10, the official archive downloaded when
 * online (md5-checked). Otherwise prints exactly what to do. Files are md5-checked where the
 * official md5 is known; a wrong size is an error (never a silent partial copy).
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dest = join(root, 'public', 'data', 'cifar10');
const REC = 3073;
const OFFICIAL_MD5 = {
  'data_batch_1.bin': '5dd7e06a14cb22eb9f671a540d1b7c25',
  'data_batch_2.bin': '5ea93a67294ea407fff1d09f752e9692',
  'data_batch_3.bin': '942cd6a4bcdd0dd3c604fbe906cb4421',
  'data_batch_4.bin': 'ae636b3ba5c66a11e91e8cb52e771fcb',
  'data_batch_5.bin': '53f37980c15c3d472c316c40844f3f0d',
  'test_batch.bin': '803d5f7f4d78ea53de84dbe85f74fb6d',
  'test_batch_first1000.bin': '371f65da31ad652f5e24b3699a3e6515',
};
const ARCHIVE_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';
const ARCHIVE_MD5 = 'c32a1d4ab5d03f1284b67883e8d87530';

const md5 = (p) => createHash('md5').update(readFileSync(p)).digest('hex');
const log = (s) => process.stdout.write(s + '\n');

function validBatch(p, name) {
  const size = statSync(p).size;
  if (size % REC !== 0) throw new Error(`${p}: ${size} bytes is not a whole number of ${REC}-byte CIFAR-10 records (corrupt file)`);
  const want = OFFICIAL_MD5[name];
  if (want && md5(p) !== want) throw new Error(`${p}: md5 differs from the official ${want} (corrupt or modified file)`);
}

function copyFrom(src) {
  mkdirSync(dest, { recursive: true });
  const names = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];
  const test = existsSync(join(src, 'test_batch.bin')) ? 'test_batch.bin' : 'test_batch_first1000.bin';
  for (const n of [...names, test]) {
    if (!existsSync(join(src, n))) throw new Error(`${src} has no ${n}`);
  }
  for (const n of [...names, test, 'batches.meta.txt', 'test_batch_labels.bin']) {
    const from = join(src, n);
    if (!existsSync(from)) continue;
    const to = join(dest, n);
    if (existsSync(to) && statSync(to).size === statSync(from).size && (!OFFICIAL_MD5[n] || md5(to) === OFFICIAL_MD5[n])) continue;
    if (n.endsWith('.bin') && n !== 'test_batch_labels.bin') validBatch(from, n);
    copyFileSync(from, to + '.tmp');
    renameSync(to + '.tmp', to);
    log(`  copied ${n}`);
  }
  writeManifest();
}

/** Calibration images: the first 256 training records, small enough for the browser to fetch. */
function writeCalibration() {
  const bytes = readFileSync(join(dest, 'data_batch_1.bin')).subarray(0, 256 * REC);
  writeFileSync(join(dest, 'calib.bin'), bytes);
}

function writeManifest() {
  writeCalibration();
  const test = existsSync(join(dest, 'test_batch.bin')) ? 'test_batch.bin' : 'test_batch_first1000.bin';
  const testCount = statSync(join(dest, test)).size / REC;
  const manifest = {
    source: 'CIFAR-10 binary layout (Krizhevsky 2009)',
    test: { file: test, count: testCount, note: testCount === 10000 ? 'official test set' : `first ${testCount} official test images` },
    val: { file: 'data_batch_5.bin', first: 5000, count: 5000, note: 'last 5000 records of data_batch_5, never used for training' },
    calib: { file: 'calib.bin', count: 256, note: 'first 256 training records (data_batch_1), for static ranges, SmoothQuant and GPTQ' },
    classes: ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'],
  };
  writeFileSync(join(dest, 'manifest.json'), JSON.stringify(manifest, null, 2));
}

async function download() {
  const tmp = join(root, 'public', 'data', 'cifar-10-binary.tar.gz');
  mkdirSync(dirname(tmp), { recursive: true });
  log(`downloading ${ARCHIVE_URL} …`);
  const res = await fetch(ARCHIVE_URL, { signal: AbortSignal.timeout(15000) });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
  const total = Number(res.headers.get('content-length') ?? 0);
  const chunks = [];
  let got = 0;
  let last = 0;
  for await (const c of res.body) {
    chunks.push(c);
    got += c.length;
    if (total && got - last > total / 20) {
      last = got;
      log(`  ${((100 * got) / total).toFixed(0)}%`);
    }
  }
  const buf = Buffer.concat(chunks);
  const sum = createHash('md5').update(buf).digest('hex');
  if (sum !== ARCHIVE_MD5) throw new Error(`archive md5 ${sum} ≠ official ${ARCHIVE_MD5}`);
  writeFileSync(tmp, buf);
  const out = join(root, 'public', 'data', 'extract');
  mkdirSync(out, { recursive: true });
  execFileSync('tar', ['-xzf', tmp, '-C', out]);
  copyFrom(join(out, 'cifar-10-batches-bin'));
  rmSync(out, { recursive: true, force: true });
  rmSync(tmp, { force: true });
}

export async function prepareData({ quiet = false } = {}) {
  const candidates = [process.env.CIFAR10_DIR, join(root, '..', 'shared', 'data', 'cifar10')].filter(Boolean);
  for (const c of candidates) {
    if (existsSync(join(c, 'data_batch_1.bin'))) {
      if (!quiet) log(`CIFAR-10 from ${c} → ${dest}`);
      copyFrom(c);
      return dest;
    }
  }
  try {
    await download();
    return dest;
  } catch (e) {
    throw new Error(
      `CIFAR-10 not found and the download failed (${e.message}).\n` +
        `Fix: set CIFAR10_DIR to a folder holding data_batch_1..5.bin and test_batch.bin (the official binary version),\n` +
        `or place ../shared/data/cifar10 beside the repo, or download ${ARCHIVE_URL} while online, then run \`npm run data\`.`,
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  prepareData().then(
    (d) => log(`ready: ${d}`),
    (e) => {
      console.error(`npm run data: ${e.message}`);
      process.exit(1);
    },
  );
}
