#!/usr/bin/env node
// Runs `npm run data` only when public/data/cifar10 is missing (the run and test commands call it).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareData } from './prepare-data.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
if (!existsSync(join(root, 'public', 'data', 'cifar10', 'manifest.json'))) {
  try {
    await prepareData();
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
