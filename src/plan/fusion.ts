/**
 * Groups an inference step list (lowerVit(…, 'infer')) into the fused ops the fast backends have:
 * the WASM CPU backend (src/cpu/vitCpu.ts) and WebGPU (src/forward/vitGpu.ts) both run this list, so
 * a fusion rule is written once. The rules are local patterns on the steps, checked by tensor name:
 *  - LayerNorm → product of the site it `feeds` (the activation may be quantized inside the LayerNorm;
 *    SmoothQuant's 1/s folds into γ, β), with the class token taken first for the head;
 *  - product → GELU, product → residual add (epilogue of the GEMM);
 *  - patch embedding → [cls; X] + pos (the GEMM adds the constant rows as its residual);
 *  - split heads → q·kᵀ → softmax → attn·v → merge heads (one attention op per block).
 * A step no rule takes stays a group of its own (`kind: 'step'`); a backend that cannot run it
 * says so in supports().
 */
import type { Step } from './steps';

type Of<K extends Step['kind']> = Extract<Step, { kind: K }>;

export type FusedOp =
  /** one weight site with what runs before (LayerNorm, class token) and after (GELU, residual, embedding) its GEMM */
  | {
      kind: 'linear';
      step: Of<'linear'>;
      /** the class-token copy before the LayerNorm (head) */
      cls?: Of<'takeCls'>;
      ln?: Of<'layerNorm'>;
      gelu?: Of<'gelu'>;
      /** y = residual.a + GEMM */
      residual?: Of<'residual'>;
      /** the patch embedding's [cls; X] + pos */
      embed?: Of<'embed'>;
      /** the name the group's result is written to */
      y: string;
    }
  /** one block's attention: both activation×activation sites */
  | {
      kind: 'attention';
      split: Of<'splitHeads'>;
      scores: Of<'attnScores'>;
      softmax: Of<'softmax'>;
      values: Of<'attnValues'>;
      merge: Of<'mergeHeads'>;
      y: string;
    }
  | { kind: 'step'; step: Step; y: string };

/** the tensor names a step reads (parameters included) */
export function stepInputs(s: Step): string[] {
  switch (s.kind) {
    case 'linear':
      return [s.x, s.w, s.b];
    case 'embed':
      return [s.x, s.cls, s.pos];
    case 'layerNorm':
      return [s.x, s.g, s.b];
    case 'attnScores':
      return [s.q, s.k];
    case 'attnValues':
      return [s.p, s.v];
    case 'residual':
      return [s.a, s.b];
    default:
      return [s.x];
  }
}

/** how many steps read each tensor name */
function readers(steps: Step[]): Map<string, number> {
  const n = new Map<string, number>();
  for (const s of steps) for (const x of stepInputs(s)) n.set(x, (n.get(x) ?? 0) + 1);
  return n;
}

export function stepOutput(s: Step): string {
  return s.kind === 'splitHeads' ? s.q : s.y;
}

export function fuseSteps(steps: Step[]): FusedOp[] {
  const uses = readers(steps);
  /** `name` feeds exactly one step, so an op may consume it without writing it out */
  const once = (name: string) => uses.get(name) === 1;
  const out: FusedOp[] = [];
  for (let i = 0; i < steps.length; ) {
    const s = steps[i];
    const at = <K extends Step['kind']>(j: number, kind: K): Of<K> | undefined =>
      steps[j]?.kind === kind ? (steps[j] as Of<K>) : undefined;
    // split → scores → softmax → values → merge
    if (s.kind === 'splitHeads') {
      const scores = at(i + 1, 'attnScores');
      const softmax = at(i + 2, 'softmax');
      const values = at(i + 3, 'attnValues');
      const merge = at(i + 4, 'mergeHeads');
      if (
        scores &&
        softmax &&
        values &&
        merge &&
        scores.q === s.q &&
        scores.k === s.k &&
        softmax.x === scores.y &&
        values.p === softmax.y &&
        values.v === s.v &&
        merge.x === values.y
      ) {
        out.push({ kind: 'attention', split: s, scores, softmax, values, merge, y: merge.y });
        i += 5;
        continue;
      }
    }
    // [takeCls →] layerNorm(feeds site) → linear(site)
    let j = i;
    const cls = at(j, 'takeCls');
    if (cls) j++;
    const ln = at(j, 'layerNorm');
    if (ln && (!cls || (ln.x === cls.y && once(cls.y)))) j++;
    const lin = at(j, 'linear');
    const lnFits = ln && lin && ln.feeds === lin.site && lin.x === ln.y && once(ln.y);
    if (lin && (lnFits || (!ln && !cls))) {
      const op: Extract<FusedOp, { kind: 'linear' }> = { kind: 'linear', step: lin, y: lin.y };
      if (lnFits) {
        op.ln = ln;
        if (cls) op.cls = cls;
      }
      j++;
      const gelu = at(j, 'gelu');
      const residual = at(j, 'residual');
      const embed = at(j, 'embed');
      if (gelu && gelu.x === lin.y && once(lin.y)) {
        op.gelu = gelu;
        op.y = gelu.y;
        j++;
      } else if (residual && residual.b === lin.y && residual.a !== lin.y && once(lin.y)) {
        op.residual = residual;
        op.y = residual.y;
        j++;
      } else if (embed && embed.x === lin.y && once(lin.y)) {
        op.embed = embed;
        op.y = embed.y;
        j++;
      }
      out.push(op);
      i = j;
      continue;
    }
    out.push({ kind: 'step', step: s, y: stepOutput(s) });
    i++;
  }
  return out;
}

/** the steps a fused op covers, in order */
export function fusedSteps(op: FusedOp): Step[] {
  if (op.kind === 'step') return [op.step];
  if (op.kind === 'attention') return [op.split, op.scores, op.softmax, op.values, op.merge];
  const all: (Step | undefined)[] = [op.cls, op.ln, op.step, op.gelu, op.residual, op.embed];
  return all.filter((s): s is Step => s !== undefined);
}
