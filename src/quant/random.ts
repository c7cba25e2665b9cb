/**
 * The project's one seeded generator: mulberry32 (32-bit state, one uint32 a call). The Hadamard
 * signs, the jitter bands, QAT batches and tests draw from it, so a seed means the same stream
 * everywhere (tools/ref/formats_ref.py writes the same generator out for the rotation's signs).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Uniform floats in [0, 1) from mulberry32. */
export function seededUniform(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}
