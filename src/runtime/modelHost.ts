/**
 * The engine's current model (issue 13 item 3): the shipped weights, or trained weights the Train
 * view applied. Swapping rebuilds the Engine — and so drops every cache keyed on the old model
 * (calibration, prepared plans, α-search inputs) — on a new backend built for the new weights
 * (backends hold weights). A refused or failed swap changes nothing: the previous model stays.
 */
import { Engine } from '../engine/engine';
import type { Backend } from '../plan/backend';
import type { MatOps } from '../plan/siteQuant';
import type { ModelIdentity } from '../plan/types';
import { ModelError } from '../model/safetensors';
import { paramsFromWeights, weightsFromParams, type VitWeights } from '../model/vitWeights';

export const SHIPPED_MODEL: ModelIdentity = { kind: 'shipped', label: 'shipped' };

const TRAINED_FIX =
  'Apply the weights of a finished or paused training run of this model (the Train view), or restore the shipped weights.';

/** "QAT-trained (step N, applied HH:MM)" / "shipped" */
export function modelLabel(id: ModelIdentity): string {
  if (id.kind === 'shipped') return 'shipped';
  const t = new Date(id.appliedAt);
  const hhmm = `${String(t.getHours()).padStart(2, '0')}:${String(t.getMinutes()).padStart(2, '0')}`;
  return `QAT-trained (step ${id.step}, applied ${hhmm})`;
}

/**
 * Trained parameters (name → values, the names of model.safetensors) checked against the shipped
 * model: every tensor present, no unknown names, the same number of values, all finite. Returns
 * weights with the shipped config; throws ModelError naming the first problem.
 */
export function checkTrainedWeights(base: VitWeights, params: Map<string, Float32Array> | Record<string, Float32Array>): VitWeights {
  const got = params instanceof Map ? params : new Map(Object.entries(params));
  const want = paramsFromWeights(base, false);
  for (const name of got.keys())
    if (!want.has(name)) throw new ModelError(`trained weights: tensor ${name} is not a parameter of this model`, TRAINED_FIX);
  for (const [name, ref] of want) {
    const a = got.get(name);
    if (!a) throw new ModelError(`trained weights: tensor ${name} is missing`, TRAINED_FIX);
    if (!(a instanceof Float32Array)) throw new ModelError(`trained weights: tensor ${name} is not a Float32Array`, TRAINED_FIX);
    if (a.length !== ref.length)
      throw new ModelError(`trained weights: tensor ${name} has ${a.length} values; the model's has ${ref.length}`, TRAINED_FIX);
    for (let i = 0; i < a.length; i++)
      if (!Number.isFinite(a[i])) throw new ModelError(`trained weights: tensor ${name}[${i}] is ${a[i]} (not finite)`, TRAINED_FIX);
  }
  return weightsFromParams(base, got);
}

export class ModelHost {
  identity: ModelIdentity = SHIPPED_MODEL;

  constructor(
    /** the shipped weights: never modified; restore returns to them */
    readonly shipped: VitWeights,
    public engine: Engine,
    /** a backend for the given weights (the worker: its backend choice; tests: CPU) */
    private readonly makeBackend: (w: VitWeights) => Promise<Backend>,
    /** the arithmetic of the engine's own reference passes (as the first engine got) */
    private readonly ops?: MatOps,
  ) {}

  /** Make trained parameters the current model; refused (ModelError) with the old model kept when they do not fit. */
  async apply(
    params: Map<string, Float32Array> | Record<string, Float32Array>,
    meta: { step: number },
    now = Date.now(),
  ): Promise<ModelIdentity> {
    const w = checkTrainedWeights(this.shipped, params);
    const id: ModelIdentity = { kind: 'trained', label: '', step: meta.step, appliedAt: now };
    id.label = modelLabel(id);
    await this.swap(w, id);
    return id;
  }

  /** Back to the shipped weights. */
  async restore(): Promise<ModelIdentity> {
    if (this.identity.kind !== 'shipped') await this.swap(this.shipped, SHIPPED_MODEL);
    return this.identity;
  }

  private async swap(w: VitWeights, id: ModelIdentity): Promise<void> {
    const backend = await this.makeBackend(w); // throws → nothing changed
    const old = this.engine;
    this.engine = new Engine(w, old.data, backend, this.ops);
    this.identity = id;
    if (old.backend !== backend) old.backend.dispose();
  }
}
