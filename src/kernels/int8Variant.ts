/**
 * Which 4×int8 dot product a shader uses: the native `dot4I8Packed` (WGSL language feature
 * packed_4x8_integer_dot_product) or the unpacked fallback with identical integer results.
 *
 * API: chooseVariant(ctx, forced?) → Int8Variant. A shader picks the matching `dot4` with the
 * PACKED_DOT4 flag of composeWgsl (wgsl.ts; shaders/lib/dot4_packed.wgsl, dot4_unpacked.wgsl).
 */
import type { GpuContext } from '../gpu/device';
import { KernelError } from './common';

export type Int8Variant = 'dot4I8Packed' | 'unpacked';

export function chooseVariant(ctx: GpuContext, forced?: Int8Variant): Int8Variant {
  if (forced === 'dot4I8Packed' && !ctx.features.packedDot4)
    throw new KernelError('dot4I8Packed requested but the adapter lacks WGSL packed_4x8_integer_dot_product');
  return forced ?? (ctx.features.packedDot4 ? 'dot4I8Packed' : 'unpacked');
}
