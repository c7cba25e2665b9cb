/** npm run qat:report — rebuilds results/qat.md from results/qat.json and results/qat_torch.json (no training). */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../src/data/nodeReader';
import { loadDataNode } from '../../src/engine/nodeLoad';
import { qatMarkdown, type QatResults } from '../../src/train/report';

const read = (f: string) => (existsSync(join(REPO_ROOT, 'results', f)) ? JSON.parse(readFileSync(join(REPO_ROOT, 'results', f), 'utf8')) : undefined);
const results: QatResults = read('qat.json') ?? { rows: {} };
const { val } = await loadDataNode(['val']);
writeFileSync(join(REPO_ROOT, 'results', 'qat.md'), qatMarkdown(results, read('qat_torch.json'), val!.labels));
console.log('results/qat.md rebuilt');
