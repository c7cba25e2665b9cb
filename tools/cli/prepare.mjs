#!/usr/bin/env node
// What every entry point needs before it runs (dev server, unit and e2e tests, eval, study,
// benchmarks): the WebAssembly kernels built (tools/cli/buildWasm.mjs, when missing or stale)
// and CIFAR-10 prepared (tools/cli/prepare-data.mjs, when missing). A fresh clone needs no
// separate step; a failure stops the command with what to do.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildWasm } from './buildWasm.mjs';
import { prepareData } from './prepare-data.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export async function prepare({ log = console.log } = {}) {
  buildWasm({ strict: !process.env.QP_ALLOW_TS_KERNELS, log });
  if (!existsSync(join(root, 'public', 'data', 'cifar10', 'manifest.json'))) await prepareData();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    await prepare();
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
