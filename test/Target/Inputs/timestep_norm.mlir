// gecko.timestep_norm(_grad) (chunked scan over time) with carried state,
// bos and padding masks, 37 tokens (not a multiple of the token tile / tsn
// chunk), 3 batch rows.
func.func @tsn(%x: tensor<3x37x8xf32>, %w: tensor<8xf32>, %b: tensor<8xf32>, %c: tensor<3xi64>, %m: tensor<3x2xf32>, %v: tensor<3x2xf32>, %bos: tensor<3x37xi1>, %pad: tensor<3x37xi1>) -> (tensor<3x37x8xf32>, tensor<3xi64>, tensor<3x2xf32>, tensor<3x2xf32>) {
  %y, %nc, %nm, %nv = gecko.timestep_norm %x, %w, %b state(%c, %m, %v) bos(%bos) padding(%pad) {num_groups = 2 : i64, beta1 = 0.9 : f64, beta2 = 0.99 : f64, eps = 1.0e-05 : f64}
      : (tensor<3x37x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<3xi64>, tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x37xi1>, tensor<3x37xi1>) -> (tensor<3x37x8xf32>, tensor<3xi64>, tensor<3x2xf32>, tensor<3x2xf32>)
  return %y, %nc, %nm, %nv : tensor<3x37x8xf32>, tensor<3xi64>, tensor<3x2xf32>, tensor<3x2xf32>
}

func.func @tsn_grad(%x: tensor<3x37x8xf32>, %w: tensor<8xf32>, %b: tensor<8xf32>, %c: tensor<3xi64>, %m: tensor<3x2xf32>, %v: tensor<3x2xf32>, %bos: tensor<3x37xi1>, %pad: tensor<3x37xi1>, %dy: tensor<3x37x8xf32>, %dm: tensor<3x2xf32>, %dv: tensor<3x2xf32>) -> (tensor<3x37x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<3x2xf32>, tensor<3x2xf32>) {
  %dx, %dw, %db, %dmi, %dvi = gecko.timestep_norm_grad %x, %w, %b state(%c, %m, %v) bos(%bos) padding(%pad) grad(%dy) state_grads(%dm, %dv) {num_groups = 2 : i64, beta1 = 0.9 : f64, beta2 = 0.99 : f64, eps = 1.0e-05 : f64}
      : (tensor<3x37x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<3xi64>, tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x37xi1>, tensor<3x37xi1>, tensor<3x37x8xf32>, tensor<3x2xf32>, tensor<3x2xf32>) -> (tensor<3x37x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<3x2xf32>, tensor<3x2xf32>)
  return %dx, %dw, %db, %dmi, %dvi : tensor<3x37x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<3x2xf32>, tensor<3x2xf32>
}
