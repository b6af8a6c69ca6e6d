// The row-wise gecko ops, at sizes that are not multiples of the tiles
// (37 tokens in token tiles of 16, 3 batch rows in batch tiles of 2), one
// function (one GPU kernel) each.
func.func @rms(%x: tensor<3x37x2x8xf32>) -> tensor<3x37x2x8xf32> {
  %y = gecko.rms_norm %x {num_groups = 2 : i64, eps = 1.0e-5 : f64}
      : (tensor<3x37x2x8xf32>) -> tensor<3x37x2x8xf32>
  return %y : tensor<3x37x2x8xf32>
}

func.func @rms_bf16(%x: tensor<3x37x16xbf16>) -> tensor<3x37x16xbf16> {
  %y = gecko.rms_norm %x {num_groups = 2 : i64, eps = 1.0e-5 : f64}
      : (tensor<3x37x16xbf16>) -> tensor<3x37x16xbf16>
  return %y : tensor<3x37x16xbf16>
}

func.func @ln(%x: tensor<3x37x16xf32>, %w: tensor<16xf32>, %b: tensor<16xf32>) -> tensor<3x37x16xf32> {
  %y = gecko.layer_norm %x weight(%w) bias(%b) {num_groups = 2 : i64, eps = 1.0e-5 : f64}
      : (tensor<3x37x16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<3x37x16xf32>
  return %y : tensor<3x37x16xf32>
}

func.func @zsplit(%z: tensor<3x37x12xf32>, %gamma: tensor<4x12xf32>, %beta: tensor<4x12xf32>)
    -> (tensor<3x37x12xf32>, tensor<3x37x12xf32>, tensor<3x37x12xf32>, tensor<3x37x12xf32>) {
  %q, %k, %aq, %ak = gecko.z_split %z, %gamma, %beta {num_heads = 2 : i64, eps = 1.0e-5 : f64}
      : (tensor<3x37x12xf32>, tensor<4x12xf32>, tensor<4x12xf32>)
      -> (tensor<3x37x12xf32>, tensor<3x37x12xf32>, tensor<3x37x12xf32>, tensor<3x37x12xf32>)
  return %q, %k, %aq, %ak : tensor<3x37x12xf32>, tensor<3x37x12xf32>, tensor<3x37x12xf32>, tensor<3x37x12xf32>
}

func.func @rope(%x: tensor<3x37x3x6xf32>, %start: i64) -> tensor<3x37x3x6xf32> {
  %y = gecko.rope %x start(%start) {base = 10000.0 : f64}
      : (tensor<3x37x3x6xf32>, i64) -> tensor<3x37x3x6xf32>
  return %y : tensor<3x37x3x6xf32>
}
