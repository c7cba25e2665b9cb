// Signed 4×int8 dot product of two packed words (lane i in bits 8i..8i+7) without
// packed_4x8_integer_dot_product: lanes sign-extended with shifts, identical integer result.
fn dot4(a: u32, b: u32) -> i32 {
  let x = bitcast<i32>(a);
  let y = bitcast<i32>(b);
  return ((x << 24u) >> 24u) * ((y << 24u) >> 24u)
       + ((x << 16u) >> 24u) * ((y << 16u) >> 24u)
       + ((x << 8u) >> 24u) * ((y << 8u) >> 24u)
       + (x >> 24u) * (y >> 24u);
}
