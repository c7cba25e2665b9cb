/** Node-side loading of the model and the prepared data (command-line tools and tests). */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadEvalSet, loadManifest, DataError } from '../data/cifar';
import { dataDir, modelDir, nodeReader } from '../data/nodeReader';
import { loadVit, type VitWeights } from '../model/vitWeights';
import type { EngineData } from '../engine/engine';

export async function loadWeightsNode(name = 'vit-cifar10'): Promise<VitWeights> {
  return loadVit(nodeReader(modelDir(name)));
}

export async function loadDataNode(sets: ('test' | 'val' | 'calib')[] = ['test', 'val', 'calib']): Promise<EngineData> {
  const dir = dataDir();
  if (!existsSync(join(dir, 'manifest.json'))) throw new DataError(`CIFAR-10 is not prepared in ${dir}`);
  const read = nodeReader(dir);
  const manifest = await loadManifest(read);
  const out: Partial<EngineData> = {};
  for (const s of sets) out[s] = await loadEvalSet(read, s, manifest);
  return out as EngineData;
}

export interface ModelReference {
  indices: number[];
  labels: number[];
  logits: number[][];
}

export function loadReferenceNode(name = 'vit-cifar10'): {
  reference: ModelReference;
  predictions: { test: number[]; val: number[] };
  metrics: any;
} {
  const d = modelDir(name);
  const j = (f: string) => JSON.parse(readFileSync(join(d, f), 'utf8'));
  return { reference: j('reference.json'), predictions: j('predictions.json'), metrics: j('metrics.json') };
}
