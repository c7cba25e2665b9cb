// Base offsets of X, W and Y (x, y, z) for batch z = outer·batchInner + inner (attention heads):
// off + outer·strideOuter + inner·strideInner, from the including shader's Params P
// (batchInner, xOff/xOuter/xInner, wOff/…, yOff/…).
fn batch_bases(z: u32) -> vec3<u32> {
  let outer = z / P.batchInner;
  let inner = z % P.batchInner;
  return vec3<u32>(
    P.xOff + outer * P.xOuter + inner * P.xInner,
    P.wOff + outer * P.wOuter + inner * P.wInner,
    P.yOff + outer * P.yOuter + inner * P.yInner,
  );
}
