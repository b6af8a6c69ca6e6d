// The MEGA block's input chain (spec §8): timestep_norm -> cema_coeffs ->
// cema -> rms_norm, with carried state and bos resets, tsn also returned (the
// block's wv reads it); 37 tokens, 24 channels (4 norm groups), N = 3, two
// batch rows (not multiples of the default chunk 16 and channel block 16).
// gecko-fuse-norm-ema turns each chain into one gecko.fused_norm_ema.
func.func @chain(%x: tensor<2x37x24xf32>, %w: tensor<24xf32>, %b: tensor<24xf32>, %c: tensor<2xi64>, %m: tensor<2x4xf32>, %v: tensor<2x4xf32>, %al: tensor<24x3xf32>, %de: tensor<24x3xf32>, %th: tensor<24xf32>, %ga: tensor<24x3x2xf32>, %hx: tensor<2x24x3xcomplex<f32>>, %bos: tensor<2x37xi1>, %rw: tensor<24xf32>) -> (tensor<2x37x24xf32>, tensor<2x37x24xf32>, tensor<2xi64>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x24x3xcomplex<f32>>) {
  %t, %nc, %nm, %nv = gecko.timestep_norm %x, %w, %b state(%c, %m, %v) bos(%bos) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 4 : i64} : (tensor<2x37x24xf32>, tensor<24xf32>, tensor<24xf32>, tensor<2xi64>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x37xi1>) -> (tensor<2x37x24xf32>, tensor<2xi64>, tensor<2x4xf32>, tensor<2x4xf32>)
  %p, %q, %g = gecko.cema_coeffs %al, %de, %th, %ga : (tensor<24x3xf32>, tensor<24x3xf32>, tensor<24xf32>, tensor<24x3x2xf32>) -> (tensor<24x3xf32>, tensor<24x3xcomplex<f32>>, tensor<24x3xcomplex<f32>>)
  %ce, %nh = gecko.cema %t, %p, %q, %g state(%hx) bos(%bos) : (tensor<2x37x24xf32>, tensor<24x3xf32>, tensor<24x3xcomplex<f32>>, tensor<24x3xcomplex<f32>>, tensor<2x24x3xcomplex<f32>>, tensor<2x37xi1>) -> (tensor<2x37x24xf32>, tensor<2x24x3xcomplex<f32>>)
  %mx = gecko.rms_norm %ce weight(%rw) {eps = 1.000000e-05 : f64, num_groups = 1 : i64} : (tensor<2x37x24xf32>, tensor<24xf32>) -> tensor<2x37x24xf32>
  return %mx, %t, %nc, %nm, %nv, %nh : tensor<2x37x24xf32>, tensor<2x37x24xf32>, tensor<2xi64>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x24x3xcomplex<f32>>
}

// bf16 decode step (L = 1): no bos, only the normalised output is used.
func.func @decode(%x: tensor<3x1x24xbf16>, %w: tensor<24xbf16>, %c: tensor<3xi64>, %m: tensor<3x4xbf16>, %al: tensor<24x3xbf16>, %th: tensor<24xbf16>, %ga: tensor<24x3x2xbf16>, %hx: tensor<3x24x3xcomplex<f32>>) -> (tensor<3x1x24xbf16>, tensor<3x24x3xcomplex<f32>>) {
  %t, %nc, %nm, %nv = gecko.timestep_norm %x, %w, %w state(%c, %m, %m) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 4 : i64} : (tensor<3x1x24xbf16>, tensor<24xbf16>, tensor<24xbf16>, tensor<3xi64>, tensor<3x4xbf16>, tensor<3x4xbf16>) -> (tensor<3x1x24xbf16>, tensor<3xi64>, tensor<3x4xbf16>, tensor<3x4xbf16>)
  %p, %q, %g = gecko.cema_coeffs %al, %al, %th, %ga : (tensor<24x3xbf16>, tensor<24x3xbf16>, tensor<24xbf16>, tensor<24x3x2xbf16>) -> (tensor<24x3xf32>, tensor<24x3xcomplex<f32>>, tensor<24x3xcomplex<f32>>)
  %ce, %nh = gecko.cema %t, %p, %q, %g state(%hx) : (tensor<3x1x24xbf16>, tensor<24x3xf32>, tensor<24x3xcomplex<f32>>, tensor<24x3xcomplex<f32>>, tensor<3x24x3xcomplex<f32>>) -> (tensor<3x1x24xbf16>, tensor<3x24x3xcomplex<f32>>)
  %mx = gecko.rms_norm %ce weight(%w) {eps = 1.000000e-05 : f64, num_groups = 1 : i64} : (tensor<3x1x24xbf16>, tensor<24xbf16>) -> tensor<3x1x24xbf16>
  return %mx, %nh : tensor<3x1x24xbf16>, tensor<3x24x3xcomplex<f32>>
}
