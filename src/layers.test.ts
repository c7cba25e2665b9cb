/**
 * The layers of src/ (issue 12): a directory may import its own layer and the layers below it,
 * never one above. Static and dynamic imports count; tests are exempt (they wire layers together).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/** bottom to top; a directory may import any directory of a lower (or its own) rank */
const LAYERS: string[][] = [
  ['util', 'data', 'gpu', 'quant'],
  ['kernels'],
  ['model'],
  ['plan'],
  ['forward'],
  ['cpu'],
  ['engine'],
  ['runtime'],
  ['state', 'train'],
  ['ui'],
];

const SRC = resolve(__dirname);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'generated' ? [] : sourceFiles(p);
    return /\.tsx?$/.test(e.name) && !/\.test\.tsx?$/.test(e.name) ? [p] : [];
  });
}

/** relative import specifiers of a file: `from '…'`, `import('…')`, `new URL('…', import.meta.url)` */
function relativeImports(text: string): string[] {
  const re = /(?:from\s+|import\(\s*|new URL\(\s*)'(\.{1,2}\/[^']+)'/g;
  return [...text.matchAll(re)].map((m) => m[1]);
}

const rank = (top: string): number => LAYERS.findIndex((l) => l.includes(top));

function layerViolations(files: string[], read: (f: string) => string): string[] {
  const out: string[] = [];
  for (const f of files) {
    const from = relative(SRC, f).split('/')[0];
    for (const spec of relativeImports(read(f))) {
      const target = relative(SRC, resolve(dirname(f), spec));
      if (target.startsWith('..')) continue; // shaders/, public/: not layers of src
      const to = target.split('/')[0];
      if (to === from || !target.includes('/')) continue;
      const rf = rank(from);
      const rt = rank(to);
      if (rf < 0 || rt < 0) out.push(`${relative(SRC, f)} → ${target}: directory not in LAYERS`);
      else if (rt > rf) out.push(`${relative(SRC, f)} → ${target}: ${from} (layer ${rf}) imports ${to} (layer ${rt})`);
    }
  }
  return out;
}

describe('layers of src/', () => {
  const files = sourceFiles(SRC).filter((f) => relative(SRC, f).includes('/'));

  it('every directory of src/ is a layer', () => {
    const dirs = new Set(files.map((f) => relative(SRC, f).split('/')[0]));
    expect([...dirs].filter((d) => rank(d) < 0)).toEqual([]);
  });

  it('no lower layer imports a higher one', () => {
    expect(layerViolations(files, (f) => readFileSync(f, 'utf8'))).toEqual([]);
  });

  it('catches an upward import (the check can fail)', () => {
    const plan = join(SRC, 'plan', 'x.ts');
    expect(layerViolations([plan], () => "import { Engine } from '../engine/engine';")).toHaveLength(1);
    expect(layerViolations([plan], () => "const m = await import('../runtime/worker');")).toHaveLength(1);
    expect(layerViolations([plan], () => "import type { VitWeights } from '../model/vitWeights';")).toEqual([]);
  });
});
