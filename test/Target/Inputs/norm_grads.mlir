// The norm / z-split / rope backward ops at sizes that are not multiples of
// the tiles (37 tokens in token tiles of 16 or 8, 3 batch rows), one
// function (one or more GPU kernels: per-tile partial parameter grads and
// their deterministic reduction) each.
func.func @rms_grad(%x: tensor<3x37x16xf32>, %w: tensor<16xf32>, %dy: tensor<3x37x16xf32>) -> (tensor<3x37x16xf32>, tensor<16xf32>) {
  %dx, %dw = gecko.rms_norm_grad %x weight(%w) grad(%dy) {num_groups = 4 : i64, eps = 1.0e-5 : f64}
      : tensor<3x37x16xf32>, tensor<16xf32>, tensor<3x37x16xf32> -> tensor<3x37x16xf32> weight(tensor<16xf32>)
  return %dx, %dw : tensor<3x37x16xf32>, tensor<16xf32>
}

func.func @ln_grad(%x: tensor<3x37x16xf32>, %w: tensor<16xf32>, %b: tensor<16xf32>, %dy: tensor<3x37x16xf32>) -> (tensor<3x37x16xf32>, tensor<16xf32>, tensor<16xf32>) {
  %dx, %dw, %db = gecko.layer_norm_grad %x weight(%w) bias(%b) grad(%dy) {num_groups = 2 : i64, eps = 1.0e-5 : f64}
      : tensor<3x37x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<3x37x16xf32> -> tensor<3x37x16xf32> weight(tensor<16xf32>) bias(tensor<16xf32>)
  return %dx, %dw, %db : tensor<3x37x16xf32>, tensor<16xf32>, tensor<16xf32>
}

func.func @zsplit_grad(%z: tensor<3x37x8xbf16>, %g: tensor<4x8xbf16>, %b: tensor<4x8xbf16>, %d0: tensor<3x37x8xbf16>, %d1: tensor<3x37x8xbf16>, %d2: tensor<3x37x8xbf16>, %d3: tensor<3x37x8xbf16>) -> (tensor<3x37x8xbf16>, tensor<4x8xbf16>, tensor<4x8xbf16>) {
  %dz, %dg, %db = gecko.z_split_grad %z, %g, %b grad(%d0, %d1, %d2, %d3) {num_heads = 2 : i64, eps = 1.0e-5 : f64}
      : (tensor<3x37x8xbf16>, tensor<4x8xbf16>, tensor<4x8xbf16>, tensor<3x37x8xbf16>, tensor<3x37x8xbf16>, tensor<3x37x8xbf16>, tensor<3x37x8xbf16>) -> (tensor<3x37x8xbf16>, tensor<4x8xbf16>, tensor<4x8xbf16>)
  return %dz, %dg, %db : tensor<3x37x8xbf16>, tensor<4x8xbf16>, tensor<4x8xbf16>
}

func.func @rope_grad(%dy: tensor<3x37x3x6xf32>, %start: i64) -> tensor<3x37x3x6xf32> {
  %dx = gecko.rope_grad %dy start(%start) {base = 500000.0 : f64, num_rope_heads = 2 : i64}
      : (tensor<3x37x3x6xf32>, i64) -> tensor<3x37x3x6xf32>
  return %dx : tensor<3x37x3x6xf32>
}
