/**
 * A QAT run's result as a plan the engine scores (issue 13 item 3, "apply"): every quantized
 * operand at the bits it trained at, its learned per-tensor (s, z) as an explicit static range
 * clip = [s·(qmin − z), s·(qmax − z)] (clipFromScaleZero; scaleZero(clip) gives (s, z) back).
 *
 * What a plan cannot say: per-channel / per-group learned weight ranges (one clip per operand).
 * Those weights keep the plan's granularity with ranges from the trained weights' own min/max
 * (dynamic), and a note says so. Activations learn one per-tensor (s, z) in the trainer whatever
 * the plan's granularity, so they are applied per tensor.
 */
import { type OperandScheme, type Plan, type SiteScheme, validatePlan, defaultHasWeight, FP32_OPERAND } from '../plan/plan';
import { clipFromScaleZero, type Bits } from '../quant/scaleZero';
import { quantKey } from './ops';

/** what the plan needs of a learned quantizer (LearnedQuantizer has it) */
export interface LearnedRange {
  scheme: OperandScheme;
  s: ArrayLike<number>;
  z: ArrayLike<number>;
  groups: number;
}

export function learnedPlan(
  trained: Plan,
  quantizers: Map<string, LearnedRange>,
  step: number,
  hasWeight: (site: number) => boolean = defaultHasWeight,
): { plan: Plan; notes: string[] } {
  const notes: string[] = [];
  const perGroupWeights: number[] = [];
  const sites = trained.sites.map((_site, i): SiteScheme => {
    const operand = (role: 'a' | 'b'): OperandScheme => {
      const q = quantizers.get(quantKey(i, role));
      if (!q || q.scheme.bits === 32) return { ...FP32_OPERAND };
      const { bits, symmetric } = q.scheme;
      if (q.groups === 1)
        return {
          bits,
          granularity: 'tensor',
          symmetric,
          range: 'static',
          clip: clipFromScaleZero(q.s[0], q.z[0], bits as Bits, symmetric),
        };
      // one (s, z) per channel / group of a weight: not expressible as one clip
      perGroupWeights.push(i);
      const o: OperandScheme = { bits, granularity: q.scheme.granularity, symmetric, range: 'dynamic' };
      if (q.scheme.granularity === 'group') o.groupSize = q.scheme.groupSize;
      return o;
    };
    return { a: operand('a'), b: operand('b') };
  });
  if (perGroupWeights.length)
    notes.push(
      `sites ${perGroupWeights.join(', ')}: the weights learned one range per channel/group, which a plan cannot state (one clip per operand); the trained weights are quantized with their own per-channel/group min/max`,
    );
  const dropped = trained.sites.flatMap((s, i) => (s.smoothquant || s.gptq || s.llmInt8 || s.rotation ? [i] : []));
  if (dropped.length)
    notes.push(
      `sites ${dropped.join(', ')}: SmoothQuant / GPTQ / LLM.int8() / rotation are not part of the trained model and are left out`,
    );
  return { plan: validatePlan({ version: 1, name: `QAT step ${step} (learned ranges)`, sites }, hasWeight), notes };
}
