/**
 * vite-node --config tools/cli/vite-node.config.ts tools/cli/formatsTable.ts -- [--dir results/formats,results/formats/rotation] [--out results/formats/formats.md]
 *
 * The formats / rotation table of issue 14 from what the runs wrote: <dir>/study.json (or
 * study.partial.json) of `npm run study -- --rows fp32,formats,rotation --report val-report`,
 * <dir>/torch_reference.json of tools/ref/compare_study.py and <dir>/rotation_sites.json of
 * tools/cli/rotationSites.ts (first dir) → --out. Several dirs (studies run in parallel parts on the same split):
 * rows are merged by key, the first dir's row winning. Accuracies with 95% Wilson intervals, Δ vs FP32
 * and rotated vs unrotated as paired exact McNemar intervals on the same images.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliArgs } from './args';
import { loadDataNode } from '../../src/runtime/nodeLoad';
import { correctness, pairedDelta } from '../../src/quant/intervals';

interface Cell {
  n: number;
  correct: number;
  accuracy_pct: number;
  lo_pct: number;
  hi_pct: number;
  predictions: string;
  delta_pp?: number;
  delta_lo_pp?: number;
  delta_hi_pp?: number;
}
interface Row {
  key: string;
  label: string;
  group: string;
  cells: Record<string, Cell>;
  paths?: Record<string, number>;
}

async function main() {
  const a = cliArgs('formats-table', { dir: 'string', out: 'string' });
  const dirs = String(a.dir ?? 'results/formats,results/formats/rotation').split(',');
  const dir = dirs[0];
  const outPath = String(a.out ?? join(dir, 'formats.md'));
  const studies = dirs.map((d) => {
    const path = existsSync(join(d, 'study.json')) ? join(d, 'study.json') : join(d, 'study.partial.json');
    return {
      path,
      study: JSON.parse(readFileSync(path, 'utf8')),
      torch: existsSync(join(d, 'torch_reference.json')) ? JSON.parse(readFileSync(join(d, 'torch_reference.json'), 'utf8')) : { rows: [] },
    };
  });
  const study = studies[0].study;
  for (const s of studies)
    if (JSON.stringify(s.study.split) !== JSON.stringify(study.split)) throw new Error(`${s.path}: another split than ${studies[0].path}`);
  const studyPath = studies.map((s) => s.path).join(' + ');
  const torch = {
    rows: studies.flatMap((s) => s.torch.rows),
    command: studies
      .map((s) => s.torch.command)
      .filter(Boolean)
      .join(' ; '),
  };
  const merged: Row[] = [];
  for (const s of studies) for (const r of s.study.rows as Row[]) if (!merged.some((m) => m.key === r.key)) merged.push(r);
  study.rows = merged;
  study.command = studies.map((s) => s.study.command ?? `${s.path} (partial)`).join(' ; ');
  const sites = existsSync(join(dir, 'rotation_sites.json')) ? JSON.parse(readFileSync(join(dir, 'rotation_sites.json'), 'utf8')) : null;
  const cell = 'val-report';
  const sp = study.split[cell];
  const data = await loadDataNode(['val']);
  if (!data.val) throw new Error('the validation set is not prepared (npm run data)');
  const labels = data.val.labels.subarray(sp.offset, sp.offset + sp.limit);
  const rows: Row[] = study.rows;
  const ok = (r: Row) =>
    correctness(
      Uint8Array.from(r.cells[cell].predictions, (c) => Number(c)),
      labels.subarray(0, r.cells[cell].n),
    );
  const acc = (c: Cell) => `${c.accuracy_pct.toFixed(2)}% [${c.lo_pct.toFixed(1)}, ${c.hi_pct.toFixed(1)}]`;
  const pp = (d: number, lo: number, hi: number) =>
    `${d >= 0 ? '+' : '−'}${Math.abs(d).toFixed(2)} [${lo.toFixed(2)}, ${hi.toFixed(2)}]${lo <= 0 && hi >= 0 ? ' ~' : ''}`;
  const tRow = (k: string) => torch.rows.find((r: { key: string }) => r.key === k)?.cells?.[cell];
  const out: string[] = [];
  out.push(`# Formats beside INT and the Hadamard rotation — ${cell} (val [${sp.offset}, ${sp.offset + sp.limit}), n = ${sp.limit})`, '');
  out.push(`From \`${studyPath}\` (${study.command ?? 'partial run'}; backend ${study.backend}); PyTorch: ${torch.command || '—'}.`, '');
  out.push(
    'Δ vs FP32: paired exact McNemar 95% interval on the same images (~ = within noise). TS vs PyTorch: the independent reference (tools/ref/formats_ref.py, from the specs) on the same images; agreement = share of images with the same prediction.',
    '',
  );
  out.push(
    '| row | plan | path | TS accuracy [95%] | Δ vs FP32 pp [95%] | PyTorch accuracy [95%] | same prediction |',
    '|---|---|---|---|---|---|---|',
  );
  for (const r of rows) {
    const c = r.cells[cell];
    if (!c) continue;
    const t = tRow(r.key);
    const paths = Object.entries(r.paths ?? {})
      .map(([p, n]) => `${p} ${n}`)
      .join(', ');
    out.push(
      `| ${r.key} | ${r.label} | ${paths || '—'} | ${acc(c)} | ${c.delta_pp === undefined ? '—' : pp(c.delta_pp, c.delta_lo_pp!, c.delta_hi_pp!)} | ${t ? acc(t.torch) : 'not run'} | ${t ? `${t.agree_pct.toFixed(1)}%` : '—'} |`,
    );
  }
  out.push(
    '',
    '## Rotation: rotated vs unrotated, paired on the same images',
    '',
    '| plan (to_qkv, fc1, fc2; rest FP32) | without | with rotation | Δ (with − without) pp [95%] |',
    '|---|---|---|---|',
  );
  for (const [k0, k1] of [
    ['fp32', 'fp32_rotated'],
    ['int4_tensor_rotatable', 'int4_tensor_rotatable_rot'],
    ['w4a4_rotatable', 'w4a4_rotatable_rot'],
    ['w4a8_rotatable', 'w4a8_rotatable_rot'],
  ]) {
    const r0 = rows.find((r) => r.key === k0);
    const r1 = rows.find((r) => r.key === k1);
    if (!r0?.cells[cell] || !r1?.cells[cell]) continue;
    const d = pairedDelta(ok(r0), ok(r1));
    out.push(
      `| ${r1.label.replace(' + Hadamard rotation', '')} | ${acc(r0.cells[cell])} | ${acc(r1.cells[cell])} | ${pp(100 * d.delta, 100 * d.lo, 100 * d.hi)} (${d.aOnly} / ${d.bOnly} discordant) |`,
    );
  }
  if (sites) {
    const f = (c: { mean: number; lo: number; hi: number }, dgt = 1) =>
      `${c.mean.toFixed(dgt)} [${c.lo.toFixed(dgt)}, ${c.hi.toFixed(dgt)}]`;
    out.push(
      '',
      `## Rotation site by site (${sites.images.count} val images from ${sites.images.offset}; mean [95% t-interval over images]; seed ${sites.seed})`,
      '',
      sites.what,
      '',
    );
    out.push(
      '| site | kind | kurtosis without → with | max/σ without → with | INT4 per-tensor output SQNR dB without → with |',
      '|---|---|---|---|---|',
    );
    for (const s of sites.rows)
      out.push(
        `| ${s.site} | block ${s.block} ${s.kind} | ${f(s.kurtosis.before)} → ${f(s.kurtosis.after)} | ${f(s.maxOverSigma.before)} → ${f(s.maxOverSigma.after)} | ${f(s.int4TensorOutputSqnrDb.before)} → ${f(s.int4TensorOutputSqnrDb.after)} |`,
      );
  }
  writeFileSync(outPath, out.join('\n') + '\n');
  console.log(out.join('\n'));
}

await main().catch((e) => {
  console.error(`formats-table: ${e.message}`);
  process.exit(1);
});
