// Signed 4×int8 dot product of two packed words (lane i in bits 8i..8i+7): the native builtin.
fn dot4(a: u32, b: u32) -> i32 { return dot4I8Packed(a, b); }
