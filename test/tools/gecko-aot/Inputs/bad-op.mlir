func.func @bad(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %y = gecko.rms_norm %x {num_groups = 3 : i64, eps = 1.0e-5 : f64}
      : (tensor<2x8xf32>) -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}
