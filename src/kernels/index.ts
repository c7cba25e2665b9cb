/**
 * The WebGPU kernel library, one import for the model/engine code.
 * Every create…() returns an op: created once for its shapes, encoded any number of times into a
 * caller's GPUCommandEncoder (or an open compute pass) with GPU buffers, destroyed by its owner.
 *
 *   gemm_f32        createGemmF32      Y = epilogue(α·X·Wᵀ), batched/strided views, GELU, residual
 *   gemm_w8a8       createGemmW8A8     int8×int8 → exact i32, zero-point correction, dequant epilogue
 *   gemm_w4a8       createGemmW4A8     int4 weights (per-channel / per-group) × int8 activations
 *   quantize_rows   createQuantizeRows float rows → packed int8 lanes + scales/zeros (row / tensor / static)
 *   layernorm       createLayerNorm, createLayerNormQuantize (fused token-wise / per-image quantization)
 *   softmax         createSoftmax
 *   attention       createAttention    per-head q·kᵀ → softmax → attn·v from the qkv buffer, FP32 or INT
 *   stats           createStats        row/col/tensor min/max/absmax/mean/σ, histogram, count beyond k·σ
 *   elementwise     createAdd, createAddInPlace, createGelu, createScale, createCopyRows
 *   bench           runKernelBench, formatBenchTable
 */
export * from './common';
export * from './gemmF32';
export * from './gemmW8A8';
export * from './gemmW4A8';
export * from './int8Variant';
export * from './quantizeRows';
export * from './layernorm';
export * from './softmax';
export * from './attention';
export * from './stats';
export * from './elementwise';
export * from './bench';
