import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { modelDir, REPO_ROOT } from '../data/nodeReader';
import { argmaxRows, NonFiniteLogitsError } from '../engine/engine';
import { ModelError, parseSafetensors, sha256Hex } from './safetensors';
import { loadVit } from './vitWeights';

// Issue 11 item 10: corrupt weights are refused with a message naming the file and what to do,
// and a NaN logit is an error rather than class 0.

const dir = modelDir();
const good = new Uint8Array(readFileSync(join(dir, 'model.safetensors')));
const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
const reader =
  (weights: Uint8Array, cfg: object = config) =>
  async (name: string) =>
    name === 'model.safetensors' ? weights : new TextEncoder().encode(JSON.stringify(cfg));

/** byte offset of the data section, and of tensor `key` within the file */
function tensorOffset(bytes: Uint8Array, key: string): number {
  const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  return 8 + headerLen + header[key].data_offsets[0];
}

describe('weights integrity', () => {
  test('the committed weights match the SHA-256 recorded in config.json and load', async () => {
    expect(config.model_safetensors_sha256).toBe(await sha256Hex(good));
    const w = await loadVit(reader(good));
    expect(w.blocks).toHaveLength(config.depth);
  });

  test('NaN bytes inside a tensor: refused, naming the tensor', async () => {
    const bad = good.slice();
    const at = tensorOffset(bad, 'blocks.2.fc1.weight') + 4 * 17;
    new DataView(bad.buffer).setUint32(at, 0x7fc00000, true);
    await expect(loadVit(reader(bad))).rejects.toThrow(ModelError);
    await expect(loadVit(reader(bad))).rejects.toThrow(
      /model\.safetensors: tensor blocks\.2\.fc1\.weight holds 1 non-finite value \(first: NaN at index 17\): the file is corrupt/,
    );
    expect(() => parseSafetensors(bad)).toThrow(/non-finite/);
  });

  test('finite but changed bytes: refused by the content hash', async () => {
    const bad = good.slice();
    const at = tensorOffset(bad, 'head.weight');
    const dv = new DataView(bad.buffer);
    dv.setFloat32(at, dv.getFloat32(at, true) * 1.5 + 0.25, true);
    await expect(loadVit(reader(bad))).rejects.toThrow(
      /model\.safetensors: content hash [0-9a-f]{12}… differs from the [0-9a-f]{12}… recorded in config\.json at export/,
    );
    const err = (await loadVit(reader(bad)).then(
      () => null,
      (e: unknown) => e,
    )) as ModelError;
    expect(err.fix).toMatch(/git checkout -- public\/models\/vit-cifar10|train/);
  });

  test('random bytes: refused', async () => {
    let s = 12345;
    const rnd = good.map(() => ((s = (s * 1103515245 + 12345) >>> 0), s >>> 24));
    await expect(loadVit(reader(rnd))).rejects.toThrow(
      /model\.safetensors: header length \d+ exceeds the file|header is not JSON|non-finite|content hash/,
    );
  });

  test('truncated file: refused', async () => {
    await expect(loadVit(reader(good.subarray(0, good.length - 1000)))).rejects.toThrow(
      /model\.safetensors: tensor .* data out of bounds \(truncated file\?\)/,
    );
  });

  test('no hash recorded: refused with how to re-export', async () => {
    const { model_safetensors_sha256: _drop, ...noHash } = config;
    await expect(loadVit(reader(good, noHash))).rejects.toThrow(/config\.json records no valid SHA-256 of model\.safetensors/);
  });

  test('a NaN or ±Inf logit is an error, not class 0', () => {
    expect(argmaxRows(new Float32Array([0, 2, 1, 5, 4, 3]), 3)).toEqual([1, 0]);
    expect(() => argmaxRows(new Float32Array([0, 2, 1, 5, NaN, 3]), 3)).toThrow(NonFiniteLogitsError);
    expect(() => argmaxRows(new Float32Array([0, 2, 1, 5, NaN, 3]), 3)).toThrow(/image 1: the forward pass produced non-finite logits/);
    expect(() => argmaxRows(new Float32Array([Infinity, 2, 1]), 3)).toThrow(/image 0/);
  });

  const scratch = mkdtempSync(join(tmpdir(), 'qp-model-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  test('npm run eval on NaN weights exits non-zero with the reason', () => {
    for (const f of ['config.json', 'metrics.json', 'predictions.json', 'reference.json']) copyFileSync(join(dir, f), join(scratch, f));
    const bad = good.slice();
    new DataView(bad.buffer).setUint32(tensorOffset(bad, 'head.bias'), 0x7fc00000, true);
    writeFileSync(join(scratch, 'model.safetensors'), bad);
    const r = spawnSync(
      process.execPath,
      [
        join(REPO_ROOT, 'node_modules/vite-node/dist/cli.mjs'),
        '--config',
        'tools/cli/vite-node.config.ts',
        'tools/cli/eval.ts',
        '--',
        '--cpu',
        '--set',
        'test',
        '--limit',
        '8',
      ],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, QP_MODEL_DIR: scratch },
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toMatch(/eval: model\.safetensors: tensor head\.bias holds 1 non-finite value/);
    expect(r.stderr).toMatch(/fix: Restore the model files from git/);
    expect(r.stdout).not.toMatch(/accuracy/);
  }, 150_000);

  test('npm run eval with --limit 0 exits non-zero naming the flag', () => {
    const r = spawnSync(
      process.execPath,
      [
        join(REPO_ROOT, 'node_modules/vite-node/dist/cli.mjs'),
        '--config',
        'tools/cli/vite-node.config.ts',
        'tools/cli/eval.ts',
        '--',
        '--limit',
        '0',
      ],
      { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 },
    );
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toMatch(/eval: --limit: 0 is out of range; expected an integer from 1/);
  }, 150_000);
});
