/**
 * One glossary for the whole playground: every term of art the views use, in plain words.
 * <Term id="…"> (Term.tsx) shows an entry as a tooltip; the introduction links to the list.
 */
export interface GlossaryEntry {
  term: string;
  text: string;
}

export const GLOSSARY = {
  site: {
    term: 'site',
    text: 'One of the 38 matrix products of the model (a linear layer, or q·kᵀ / attn·v inside attention). Each site gets its own quantization scheme.',
  },
  granularity: {
    term: 'granularity',
    text: 'How many values share one scale: per-tensor (the whole matrix), per-token (each row of the activations), per-channel (each output row of the weights) or per-group (runs of G values along the inner dimension). Finer = more accurate, a little more bookkeeping.',
  },
  grid: {
    term: 'grid',
    text: 'The set of values an integer code can stand for: symmetric (centred on 0, zero point 0) or asymmetric (covers [min, max], with an integer zero point).',
  },
  range: {
    term: 'range',
    text: 'Where min and max come from: dynamic (measured on each image or token at run time) or static (fixed from calibration images by a calibrator; values outside are clipped).',
  },
  'per-tensor': {
    term: 'per-tensor',
    text: 'One scale (and zero point) for a whole matrix. Cheapest, but a single outlier stretches the range for every value.',
  },
  'per-token': {
    term: 'per-token',
    text: 'One scale (and zero point) per row of the activation matrix, i.e. per token (patch). Outliers in one token do not coarsen the grid of the others.',
  },
  'per-channel': {
    term: 'per-channel',
    text: 'One scale per output channel (row) of the weight matrix. The integer GEMM can still apply it after the integer sum, in the epilogue.',
  },
  'per-group': {
    term: 'per-group',
    text: 'One scale per run of G consecutive values along the inner dimension (e.g. G = 128). Finer than per-channel; used for 4-bit weights.',
  },
  symmetric: {
    term: 'symmetric',
    text: 'The grid is centred on 0: q = round(x / s), zero point 0. Simple and fast; wastes half the grid if the values are all positive.',
  },
  asymmetric: {
    term: 'asymmetric',
    text: 'The grid covers [min, max] exactly: q = round(x / s) + z with an integer zero point z. Better for one-sided ranges such as post-GELU activations.',
  },
  scale: {
    term: 'scale (s)',
    text: 'The step between two neighbouring grid values: s = (max − min) / (2ᵇ − 1). A value x becomes the integer round(x / s) (+ z).',
  },
  'zero-point': { term: 'zero point (z)', text: 'The integer that represents the real value 0 on an asymmetric grid, so that 0 is exact.' },
  static: {
    term: 'static range',
    text: 'The range is fixed in advance from calibration images (a calibrator picks it); at run time values outside it are clipped.',
  },
  dynamic: {
    term: 'dynamic range',
    text: 'The range is measured on the data at run time (per image, per token…): never clips, costs a min/max pass.',
  },
  calibrator: {
    term: 'calibrator',
    text: 'How a static range is chosen from calibration statistics: min/max (the whole range), percentile (ignore the extreme tail), MSE (the clip that minimises squared error) or KL (the clip that keeps the histogram’s shape, as TensorRT does).',
  },
  minmax: { term: 'min/max', text: 'Calibrator: the range is the smallest and largest value seen on the calibration images.' },
  percentile: {
    term: 'percentile',
    text: 'Calibrator: the range ends at a high percentile (e.g. 99.99%) of |x|, so rare outliers are clipped instead of stretching the grid.',
  },
  mse: {
    term: 'MSE calibrator',
    text: 'Calibrator: searches the clip value that minimises the mean squared quantization error on the calibration histogram.',
  },
  kl: {
    term: 'KL calibrator',
    text: 'Calibrator: searches the clip value whose quantized histogram is closest (Kullback–Leibler divergence) to the original one.',
  },
  smoothquant: {
    term: 'SmoothQuant',
    text: 'Divide each input channel of the activations by s and multiply the weight columns by s (the product is unchanged): outlier channels get smaller, so activations quantize better; α sets how much difficulty moves to the weights.',
  },
  llmint8: {
    term: 'LLM.int8()',
    text: 'Mixed precision inside one product: input channels with any |x| above a threshold (6) stay in float, the rest run as an INT8 GEMM; the two partial products are added.',
  },
  gptq: {
    term: 'GPTQ',
    text: 'Weight quantization that rounds the columns one by one and corrects the not-yet-rounded columns for the error, using second-order statistics (the Hessian) of the calibration inputs.',
  },
  'fake-quant': {
    term: 'fake-quant (simulated)',
    text: 'Quantize then immediately dequantize, and multiply in float: the accuracy of a scheme that no integer kernel here runs.',
  },
  'weight-only': {
    term: 'weight-only',
    text: 'Only the weights are quantized (memory saving); they are dequantized to float before the product, activations stay float.',
  },
  'integer-gemm': {
    term: 'integer GEMM',
    text: 'The product runs on integers (int8 × int8 summed in int32) and the scales are applied once per output in the epilogue: the path that saves time on real hardware.',
  },
  w8a8: { term: 'W8A8', text: 'Weights 8-bit, activations 8-bit: both operands of the product are INT8 and it runs as an integer GEMM.' },
  w4a8: { term: 'W4A8', text: 'Weights 4-bit (per group), activations 8-bit: half the weight memory of W8A8, still an integer GEMM.' },
  dot4: {
    term: 'dot4I8Packed',
    text: 'A WGSL built-in: the dot product of four int8 values packed in one 32-bit word with four others — four multiply-adds in one instruction.',
  },
  'int8-lanes': {
    term: 'int8 lanes',
    text: 'Four 8-bit integers packed into one 32-bit register word; dot4I8Packed multiplies the four lanes pairwise and sums them.',
  },
  fused: {
    term: 'fused quantization',
    text: 'The activation is quantized inside the kernel that produces it (here the LayerNorm), instead of a separate pass over memory: same numbers, less traffic.',
  },
  wilson: {
    term: 'Wilson interval',
    text: 'A 95% confidence interval for an accuracy measured on n images: the range of true accuracies compatible with what was seen. Wider for small n.',
  },
  paired: {
    term: 'paired Δ',
    text: 'The difference between two plans measured on the same images. Only images on which they disagree count, which makes it far more precise than subtracting two separate accuracies.',
  },
  mcnemar: {
    term: 'McNemar',
    text: 'The exact test behind the paired Δ: of the images the two plans disagree on, how many go each way. Its interval is the interval of the Δ.',
  },
  'within-noise': {
    term: 'within noise',
    text: 'The 95% interval of the Δ contains 0: on these images the change cannot be told apart from chance. Shown neutral, neither a gain nor a loss.',
  },
  ternary: {
    term: 'ternary',
    text: 'The symmetric 2-bit grid {−s, 0, +s}: three levels (the fourth code is unused so that 0 stays exact).',
  },
  jitter: {
    term: 'jitter band',
    text: 'For chaotic plans (everything at 4 bits or less, per tensor) tiny float differences flip predictions. The band is the range of accuracies when every site’s output is multiplied by (1 + 10⁻⁶·noise) for a few seeds: differences inside it mean nothing.',
  },
  note004: {
    term: 'the all-INT4 experiment',
    text: 'An earlier experiment of this project (note 004): every site at INT4 per tensor on both operands, asymmetric, dynamic — the worst case for outliers.',
  },
  'bit-ops': {
    term: 'bit-ops',
    text: 'Multiply-accumulates weighted by the bits of both operands (MACs × bits_A × bits_B), relative to all-FP32: a rough proxy for the cost of the arithmetic.',
  },
  macs: { term: 'MACs', text: 'Multiply-accumulate operations of a product: m × n × k.' },
  flips: {
    term: 'fixed / broken',
    text: 'Of the images on which the plan’s prediction differs from FP32’s: fixed = FP32 was wrong and the plan is right; broken = FP32 was right and the plan is wrong; the rest changed from one wrong class to another. changed = fixed + broken + wrong→wrong.',
  },
  sqnr: { term: 'SQNR', text: 'Signal-to-quantization-noise ratio in dB: 10·log10(Σx² / Σ(x − x̂)²). Each extra bit adds about 6 dB.' },
  'validation-set': {
    term: 'validation set',
    text: '5000 CIFAR-10 training images held out from training; the stage figures are scored on them (the study’s report half, images 2500–4999, when it comes from study.json).',
  },
} satisfies Record<string, GlossaryEntry>;

export type GlossaryId = keyof typeof GLOSSARY;
