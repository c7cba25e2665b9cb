// Mirror of src/quant/scaleZero.ts (science.md §1) for the quantize kernels.
// WGSL's `/` on f32 is only accurate to 2.5 ULP (SwiftShader and real GPUs use a reciprocal), so the
// quotients that feed round() use div_rn: an exact, correctly rounded (to nearest even) f32
// division done in integers — the same value JavaScript's Math.fround(a / b) gives. + − × and
// round() (half to even) are correctly rounded in WGSL already.
// Limits: quotients below 2^-126 return ±0 (they round to integer 0 anyway); overflow → ±Inf.

// Largest finite f32: the start value of min/max scans (inputs are checked finite; WGSL constants may not be Inf).
const F32_MAX: f32 = 3.40282346638528859812e+38f;

// Mantissa (with implicit bit, normalized to [2^23, 2^24)) and unbiased exponent of a finite |x| > 0.
fn split_f32(u: u32) -> vec2<i32> {
  var e = i32((u >> 23u) & 0xffu);
  var m = u & 0x7fffffu;
  if (e == 0) {
    // subnormal: normalize
    e = 1;
    while ((m & 0x800000u) == 0u) { m = m << 1u; e = e - 1; }
  } else {
    m = m | 0x800000u;
  }
  return vec2<i32>(bitcast<i32>(m), e - 127);
}

fn div_rn(a: f32, b: f32) -> f32 {
  let ua = bitcast<u32>(a);
  let ub = bitcast<u32>(b);
  let sign = (ua ^ ub) & 0x80000000u;
  if ((ua & 0x7fffffffu) == 0u) { return bitcast<f32>(sign); }
  if ((ub & 0x7fffffffu) == 0u) { return bitcast<f32>(sign | 0x7f800000u); }
  let sa = split_f32(ua & 0x7fffffffu);
  let sb = split_f32(ub & 0x7fffffffu);
  var ma = bitcast<u32>(sa.x);
  let mb = bitcast<u32>(sb.x);
  var e = sa.y - sb.y;
  if (ma < mb) { ma = ma << 1u; e = e - 1; }
  // long division: 25 quotient bits (24 of mantissa + 1 rounding bit), remainder = sticky
  var q = 0u;
  var r = ma;
  for (var i = 0u; i < 25u; i++) {
    q = q << 1u;
    if (r >= mb) { r = r - mb; q = q | 1u; }
    r = r << 1u;
  }
  var mant = q >> 1u;
  let roundBit = q & 1u;
  if (roundBit == 1u && (r != 0u || (mant & 1u) == 1u)) { mant = mant + 1u; }
  if (mant == 0x1000000u) { mant = mant >> 1u; e = e + 1; }
  let E = e + 127;
  if (E >= 255) { return bitcast<f32>(sign | 0x7f800000u); }
  if (E <= 0) { return bitcast<f32>(sign); }
  return bitcast<f32>(sign | (u32(E) << 23u) | (mant & 0x7fffffu));
}

//#include finite

// Scale and zero of a range (scaleZero): returns (scale, zero as f32 integer). ok = false on overflow.
struct SZ { s: f32, z: i32, ok: bool }
fn scale_zero(rmin: f32, rmax: f32, qmin: i32, qmax: i32, symmetric: bool) -> SZ {
  var o: SZ;
  o.ok = true;
  if (symmetric) {
    let absmax = max(abs(rmin), abs(rmax));
    var s = div_rn(absmax, f32(qmax));
    if (s == 0.0) { s = 1.0; }
    o.s = s;
    o.z = 0;
    return o;
  }
  let lo = min(rmin, 0.0);
  let hi = max(rmax, 0.0);
  let d = hi - lo;
  var s = div_rn(d, f32(qmax - qmin));
  if (!finite(d) || !finite(s)) { o.ok = false; s = 1.0; }
  if (s == 0.0) { s = 1.0; }
  o.s = s;
  o.z = clamp(i32(round(f32(qmin) - div_rn(lo, s))), qmin, qmax);
  return o;
}

// q = clamp(round(r/s) + z, qmin, qmax) — round first, then + z.
fn quantize_value(r: f32, s: f32, z: i32, qmin: i32, qmax: i32) -> i32 {
  let t = round(div_rn(r, s));
  // |t| may exceed the i32 range for huge r/s: clamp in float first.
  let q = i32(clamp(t, -1073741824.0, 1073741824.0)) + z;
  return clamp(q, qmin, qmax);
}
