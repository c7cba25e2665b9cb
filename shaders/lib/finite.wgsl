// true unless x is NaN or ±Inf (exponent bits all ones); WGSL has no isnan/isinf.
fn finite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }
