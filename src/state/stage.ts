/** The narrated stage-mode sequence: each step applies a preset and shows a caption. */
import type { PresetId } from './presets';

export interface StageStep {
  preset: PresetId;
  title: string;
  caption: string;
  /** a recorded QAT run (a row of results/qat.json, npm run qat) shown beside the plan's post-training figure */
  qat?: string;
}

export const STAGE_STEPS: StageStep[] = [
  {
    preset: 'fp32',
    title: 'The reference',
    caption: 'A small Vision Transformer classifies CIFAR-10 in this page. All 38 matrix products run in float32.',
  },
  {
    preset: 'w8a8',
    title: 'INT8, per token',
    caption:
      'Activations get one INT8 range per token, weights one per output channel: an integer GEMM with a cheap dequant epilogue — accuracy barely moves.',
  },
  {
    preset: 'w4a8g128',
    title: 'INT4 weights',
    caption:
      'Weights drop to 4 bits in groups of 128, activations stay INT8: an eighth of the float weight memory. Does it cost accuracy? The paired Δ below answers, with its interval.',
  },
  {
    preset: 'note004-int4',
    title: 'Everything INT4, per tensor',
    caption:
      'An earlier experiment of this project: one range per tensor, 4 bits on both operands of all 38 sites. Outliers stretch each range and the grid gets coarse.',
  },
  {
    preset: 'note004-int4',
    title: 'Let the ranges learn (QAT)',
    caption:
      'The same all-INT4 plan, now trained with the quantizer in the loop: straight-through rounding, learnable scale and zero (LSQ), the FP32 model as teacher. Below, this plan after post-training quantization (dynamic ranges), then a recorded QAT run (4000 steps of 32 images): it starts from static min/max ranges — lower — and learns them back until what separates it from FP32 is within noise (the paired Δ and its interval, below).',
    qat: 'all-INT4 QAT, cosine, distilled, 4000×32',
  },
  {
    preset: 'int2-best6',
    title: 'INT2 where it hurts least',
    caption: 'Only the six least sensitive sites at 2 bits, the rest FP32: the sites are not equal.',
  },
  {
    preset: 'smoothquant',
    title: 'SmoothQuant',
    caption: 'Move the outlier difficulty from activations into weights (α = 0.5), then quantize both per tensor to INT8.',
  },
  {
    preset: 'llmint8',
    title: 'LLM.int8()',
    caption: 'Keep the few outlier channels (|x| > 6) in float and run the rest in INT8: mixed precision inside one product.',
  },
];
