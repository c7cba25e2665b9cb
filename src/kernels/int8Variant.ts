/**
 * Which 4×int8 dot product a shader uses: the native `dot4I8Packed` (WGSL language feature
 * packed_4x8_integer_dot_product) or the unpacked fallback with identical integer results.
 *
 * API: chooseVariant(ctx, forced?) → Int8Variant;  withDot4(variant, shaderSource) → WGSL
 */
import packed from '../../shaders/dot4_packed.wgsl?raw';
import unpacked from '../../shaders/dot4_unpacked.wgsl?raw';
import type { GpuContext } from '../gpu/device';
import { KernelError } from './common';

export type Int8Variant = 'dot4I8Packed' | 'unpacked';

export function chooseVariant(ctx: GpuContext, forced?: Int8Variant): Int8Variant {
  if (forced === 'dot4I8Packed' && !ctx.features.packedDot4)
    throw new KernelError('dot4I8Packed requested but the adapter lacks WGSL packed_4x8_integer_dot_product');
  return forced ?? (ctx.features.packedDot4 ? 'dot4I8Packed' : 'unpacked');
}

export function withDot4(variant: Int8Variant, source: string): string {
  return (variant === 'dot4I8Packed' ? packed : unpacked) + '\n' + source;
}
