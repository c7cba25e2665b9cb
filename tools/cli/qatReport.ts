/**
 * npm run qat:report [-- --from-checkpoints] — rebuilds results/qat.md and qat.summary.json from results/qat.json and
 * results/qat_torch.json (no training); --from-checkpoints first puts every finished row of
 * checkpoints/qat/*.json into results/qat.json (runs that overlapped in time each wrote only theirs).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../src/data/nodeReader';
import { loadDataNode } from '../../src/runtime/nodeLoad';
import { qatMarkdown, qatSummary, type QatResults } from '../../src/train/report';

const read = (f: string) =>
  existsSync(join(REPO_ROOT, 'results', f)) ? JSON.parse(readFileSync(join(REPO_ROOT, 'results', f), 'utf8')) : undefined;
const results: QatResults = read('qat.json') ?? { rows: {} };
if (process.argv.includes('--from-checkpoints')) {
  const dir = join(REPO_ROOT, 'checkpoints', 'qat');
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.json') && !f.startsWith('start-') && f !== 'fp32-predictions.json')) {
    const ck = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { row?: QatResults['rows'][string] };
    if (ck.row?.final && !/^bench/.test(ck.row.name)) results.rows[ck.row.name] = ck.row;
  }
  writeFileSync(join(REPO_ROOT, 'results', 'qat.json'), JSON.stringify(results, null, 1));
}
const { val } = await loadDataNode(['val']);
writeFileSync(join(REPO_ROOT, 'results', 'qat.summary.json'), JSON.stringify(qatSummary(results)));
writeFileSync(join(REPO_ROOT, 'results', 'qat.md'), qatMarkdown(results, read('qat_torch.json'), val!.labels));
console.log('results/qat.md and results/qat.summary.json rebuilt');
