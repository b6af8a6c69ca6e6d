// The complex EMA family: cema_coeffs(_grad) (per-channel f64 math) and
// gecko.cema(_grad) as a chunked scan, with carried state and bos resets;
// 37 tokens and 20 channels (not multiples of the default chunk 16 and
// channel block 16), 3 batch rows.
func.func @coeffs(%a: tensor<20x3xf32>, %d: tensor<20x3xf32>, %t: tensor<20xf32>, %g: tensor<20x3x2xf32>) -> (tensor<20x3xf32>, tensor<20x3xcomplex<f32>>, tensor<20x3xcomplex<f32>>) {
  %p, %q, %gc = gecko.cema_coeffs %a, %d, %t, %g : (tensor<20x3xf32>, tensor<20x3xf32>, tensor<20xf32>, tensor<20x3x2xf32>) -> (tensor<20x3xf32>, tensor<20x3xcomplex<f32>>, tensor<20x3xcomplex<f32>>)
  return %p, %q, %gc : tensor<20x3xf32>, tensor<20x3xcomplex<f32>>, tensor<20x3xcomplex<f32>>
}

func.func @coeffs_grad(%a: tensor<20x3xf32>, %d: tensor<20x3xf32>, %t: tensor<20xf32>, %g: tensor<20x3x2xf32>, %dp: tensor<20x3xf32>, %dq: tensor<20x3xcomplex<f32>>, %dg: tensor<20x3xcomplex<f32>>) -> (tensor<20x3xf32>, tensor<20x3xf32>, tensor<20xf32>, tensor<20x3x2xf32>) {
  %da, %dd, %dt, %dgg = gecko.cema_coeffs_grad %a, %d, %t, %g grad(%dp, %dq, %dg) : (tensor<20x3xf32>, tensor<20x3xf32>, tensor<20xf32>, tensor<20x3x2xf32>, tensor<20x3xf32>, tensor<20x3xcomplex<f32>>, tensor<20x3xcomplex<f32>>) -> (tensor<20x3xf32>, tensor<20x3xf32>, tensor<20xf32>, tensor<20x3x2xf32>)
  return %da, %dd, %dt, %dgg : tensor<20x3xf32>, tensor<20x3xf32>, tensor<20xf32>, tensor<20x3x2xf32>
}

func.func @cema(%x: tensor<3x37x20xf32>, %p: tensor<20x3xf32>, %q: tensor<20x3xcomplex<f32>>, %g: tensor<20x3xcomplex<f32>>, %hx: tensor<3x20x3xcomplex<f32>>, %bos: tensor<3x37xi1>) -> (tensor<3x37x20xf32>, tensor<3x20x3xcomplex<f32>>) {
  %y, %h = gecko.cema %x, %p, %q, %g state(%hx) bos(%bos) : (tensor<3x37x20xf32>, tensor<20x3xf32>, tensor<20x3xcomplex<f32>>, tensor<20x3xcomplex<f32>>, tensor<3x20x3xcomplex<f32>>, tensor<3x37xi1>) -> (tensor<3x37x20xf32>, tensor<3x20x3xcomplex<f32>>)
  return %y, %h : tensor<3x37x20xf32>, tensor<3x20x3xcomplex<f32>>
}

func.func @cema_grad(%x: tensor<3x37x20xf32>, %p: tensor<20x3xf32>, %q: tensor<20x3xcomplex<f32>>, %g: tensor<20x3xcomplex<f32>>, %hx: tensor<3x20x3xcomplex<f32>>, %bos: tensor<3x37xi1>, %dy: tensor<3x37x20xf32>, %dh: tensor<3x20x3xcomplex<f32>>) -> (tensor<3x37x20xf32>, tensor<20x3xf32>, tensor<20x3xcomplex<f32>>, tensor<20x3xcomplex<f32>>, tensor<3x20x3xcomplex<f32>>) {
  %dx, %dp, %dq, %dg, %dhx = gecko.cema_grad %x, %p, %q, %g state(%hx) bos(%bos) grad(%dy) state_grad(%dh) : tensor<3x37x20xf32>, tensor<20x3xf32>, tensor<20x3xcomplex<f32>>, tensor<20x3xcomplex<f32>>, tensor<3x20x3xcomplex<f32>>, tensor<3x37xi1>, tensor<3x37x20xf32>, tensor<3x20x3xcomplex<f32>> -> tensor<3x37x20xf32>, tensor<20x3xf32>, tensor<20x3xcomplex<f32>>, tensor<20x3xcomplex<f32>> state(tensor<3x20x3xcomplex<f32>>)
  return %dx, %dp, %dq, %dg, %dhx : tensor<3x37x20xf32>, tensor<20x3xf32>, tensor<20x3xcomplex<f32>>, tensor<20x3xcomplex<f32>>, tensor<3x20x3xcomplex<f32>>
}
