// Small elementwise ops of the ViT forward. Element i of n:
//   op 0 add:        OUT[oOff + i] = A[aOff + i] + B[bOff + (i mod bPeriod)]   (residual add; bias / position
//                    embedding broadcast with bPeriod = its length)
//   op 1 gelu:       OUT[oOff + i] = gelu(A[aOff + i])  (tanh form)
//   op 2 scale:      OUT[oOff + i] = A[aOff + i] · alpha
//   op 3 copy rows:  row r = i / cols, c = i mod cols: OUT[oOff + r·oRow + c] = A[aOff + r·aRow + c·aCol]
//                    (gather class-token rows, write the class token into each image's row 0; restack
//                    a head's q, k or vᵀ out of the qkv rows for the operand statistics)
//   op 4 add in place: OUT[oOff + i] += A[aOff + i]
struct Params {
  n: u32, op: u32, aOff: u32, bOff: u32,
  oOff: u32, bPeriod: u32, cols: u32, aRow: u32,
  oRow: u32, nx: u32, alpha: f32, aCol: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> OUT: array<f32>;

//#include gelu

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * P.nx * 64u;
  if (i >= P.n) { return; }
  switch P.op {
    case 0u: { OUT[P.oOff + i] = A[P.aOff + i] + B[P.bOff + (i % P.bPeriod)]; }
    case 1u: { OUT[P.oOff + i] = gelu(A[P.aOff + i]); }
    case 2u: { OUT[P.oOff + i] = A[P.aOff + i] * P.alpha; }
    case 3u: {
      let r = i / P.cols;
      let c = i % P.cols;
      OUT[P.oOff + r * P.oRow + c] = A[P.aOff + r * P.aRow + c * P.aCol];
    }
    case 4u: { OUT[P.oOff + i] = OUT[P.oOff + i] + A[P.aOff + i] + 0.0 * B[0]; }
    default: {}
  }
}
