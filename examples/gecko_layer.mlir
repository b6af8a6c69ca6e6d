// One chunk step of a Gecko layer (MEGA + NFFN, spec §8) in gecko IR, with a
// warm streaming state: 16 tokens (two chunks of C = 8) of the tiny model
// (D = 32, z_dim = 16, value_dim = 32, H = 2, dz = 8, dv = 16, N = 4,
// TSN groups = 4, FFN hidden = 64). Every stateful op takes its carried state
// as operands and returns the new state, so the layer is a pure function
// (x, state) -> (y, new state).
//
// Linear weights are stored (in, out) here so that plain linalg.matmul applies
// them; bias vectors seed the matmul accumulators.
//
// Run: build/bin/gecko-opt examples/gecko_layer.mlir

#id2 = affine_map<(i, j) -> (i, j)>

func.func @gecko_layer(
    %x: tensor<1x16x32xf32>, %start: i64,
    // Carried state (spec §9).
    %count: tensor<1xi64>, %mean: tensor<1x4xf32>, %var: tensor<1x4xf32>,
    %hx: tensor<1x32x4xcomplex<f32>>,
    %sca_k: tensor<1x8x2x8xf32>, %cache_v: tensor<1x8x2x16xf32>,
    %awm_k: tensor<1x8x2x8xf32>,
    %memory: tensor<1x2x8x16xf32>, %lnt: tensor<1x2x8xf32>,
    // Parameters (raw norm scales; the ops apply weight + 1).
    %tn_w: tensor<32xf32>, %tn_b: tensor<32xf32>,
    %alpha: tensor<32x4xf32>, %delta: tensor<32x4xf32>,
    %theta: tensor<32xf32>, %gamma: tensor<32x4x2xf32>,
    %rms_w: tensor<32xf32>,
    %wz: tensor<32x16xf32>, %bz: tensor<16xf32>,
    %wv: tensor<32x32xf32>, %bv: tensor<32xf32>,
    %wr: tensor<32x32xf32>, %br: tensor<32xf32>,
    %zgamma: tensor<4x16xf32>, %zbeta: tensor<4x16xf32>,
    %wh1: tensor<32x32xf32>, %bh1: tensor<32xf32>, %wh2: tensor<32x32xf32>,
    %ln_w: tensor<32xf32>, %ln_b: tensor<32xf32>,
    %fc1: tensor<32x64xf32>, %fc3: tensor<32x64xf32>, %fc2: tensor<64x32xf32>)
    -> (tensor<1x16x32xf32>, tensor<1xi64>, tensor<1x4xf32>, tensor<1x4xf32>,
        tensor<1x32x4xcomplex<f32>>, tensor<1x8x2x8xf32>, tensor<1x8x2x16xf32>,
        tensor<1x8x2x8xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8xf32>) {
  %zero = arith.constant 0.0 : f32

  // Timestep decay norm -> complex EMA (residual included) -> RMS norm.
  %tsn, %count1, %mean1, %var1 = gecko.timestep_norm %x, %tn_w, %tn_b state(%count, %mean, %var) {beta1 = 9.990000e-01 : f64, beta2 = 9.999000e-01 : f64, eps = 1.000000e-05 : f64, num_groups = 4 : i64} : (tensor<1x16x32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<1xi64>, tensor<1x4xf32>, tensor<1x4xf32>) -> (tensor<1x16x32xf32>, tensor<1xi64>, tensor<1x4xf32>, tensor<1x4xf32>)
  %p, %q, %g = gecko.cema_coeffs %alpha, %delta, %theta, %gamma : (tensor<32x4xf32>, tensor<32x4xf32>, tensor<32xf32>, tensor<32x4x2xf32>) -> (tensor<32x4xf32>, tensor<32x4xcomplex<f32>>, tensor<32x4xcomplex<f32>>)
  %ce, %hx1 = gecko.cema %tsn, %p, %q, %g state(%hx) : (tensor<1x16x32xf32>, tensor<32x4xf32>, tensor<32x4xcomplex<f32>>, tensor<32x4xcomplex<f32>>, tensor<1x32x4xcomplex<f32>>) -> (tensor<1x16x32xf32>, tensor<1x32x4xcomplex<f32>>)
  %mx = gecko.rms_norm %ce weight(%rms_w) {eps = 1.000000e-05 : f64, num_groups = 1 : i64} : (tensor<1x16x32xf32>, tensor<32xf32>) -> tensor<1x16x32xf32>

  // Projections: z = wz(mx), v = silu(wv(tsn)), r = silu(wr(mx)).
  %mx2 = tensor.collapse_shape %mx [[0, 1], [2]] : tensor<1x16x32xf32> into tensor<16x32xf32>
  %tsn2 = tensor.collapse_shape %tsn [[0, 1], [2]] : tensor<1x16x32xf32> into tensor<16x32xf32>
  %e16 = tensor.empty() : tensor<16x16xf32>
  %e32 = tensor.empty() : tensor<16x32xf32>
  %bz2 = linalg.broadcast ins(%bz : tensor<16xf32>) outs(%e16 : tensor<16x16xf32>) dimensions = [0]
  %z2 = linalg.matmul ins(%mx2, %wz : tensor<16x32xf32>, tensor<32x16xf32>) outs(%bz2 : tensor<16x16xf32>) -> tensor<16x16xf32>
  %bv2 = linalg.broadcast ins(%bv : tensor<32xf32>) outs(%e32 : tensor<16x32xf32>) dimensions = [0]
  %vl = linalg.matmul ins(%tsn2, %wv : tensor<16x32xf32>, tensor<32x32xf32>) outs(%bv2 : tensor<16x32xf32>) -> tensor<16x32xf32>
  %br2 = linalg.broadcast ins(%br : tensor<32xf32>) outs(%e32 : tensor<16x32xf32>) dimensions = [0]
  %rl = linalg.matmul ins(%mx2, %wr : tensor<16x32xf32>, tensor<32x32xf32>) outs(%br2 : tensor<16x32xf32>) -> tensor<16x32xf32>
  %v2 = func.call @silu(%vl) : (tensor<16x32xf32>) -> tensor<16x32xf32>
  %r2 = func.call @silu(%rl) : (tensor<16x32xf32>) -> tensor<16x32xf32>

  // z-norm + q/k/aq/ak split, head split, RoPE on q and k.
  %z = tensor.expand_shape %z2 [[0, 1], [2]] output_shape [1, 16, 16] : tensor<16x16xf32> into tensor<1x16x16xf32>
  %zq, %zk, %zaq, %zak = gecko.z_split %z, %zgamma, %zbeta {eps = 1.000000e-05 : f64, num_heads = 2 : i64} : (tensor<1x16x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>) -> (tensor<1x16x16xf32>, tensor<1x16x16xf32>, tensor<1x16x16xf32>, tensor<1x16x16xf32>)
  %qh = tensor.expand_shape %zq [[0], [1], [2, 3]] output_shape [1, 16, 2, 8] : tensor<1x16x16xf32> into tensor<1x16x2x8xf32>
  %kh = tensor.expand_shape %zk [[0], [1], [2, 3]] output_shape [1, 16, 2, 8] : tensor<1x16x16xf32> into tensor<1x16x2x8xf32>
  %aqh = tensor.expand_shape %zaq [[0], [1], [2, 3]] output_shape [1, 16, 2, 8] : tensor<1x16x16xf32> into tensor<1x16x2x8xf32>
  %akh = tensor.expand_shape %zak [[0], [1], [2, 3]] output_shape [1, 16, 2, 8] : tensor<1x16x16xf32> into tensor<1x16x2x8xf32>
  %vh = tensor.expand_shape %v2 [[0, 1], [2, 3]] output_shape [1, 16, 2, 16] : tensor<16x32xf32> into tensor<1x16x2x16xf32>
  %qr = gecko.rope %qh start(%start) {base = 5.000000e+05 : f64} : (tensor<1x16x2x8xf32>, i64) -> tensor<1x16x2x8xf32>
  %kr = gecko.rope %kh start(%start) {base = 5.000000e+05 : f64} : (tensor<1x16x2x8xf32>, i64) -> tensor<1x16x2x8xf32>

  // Sliding chunk attention over the previous chunk + this one, and the
  // adaptive working memory that holds everything older.
  %sca = gecko.chunk_attention chunked %qr, %kr, %vh cache(%sca_k, %cache_v) {causal, chunk_size = 8 : i64} : (tensor<1x16x2x8xf32>, tensor<1x16x2x8xf32>, tensor<1x16x2x16xf32>, tensor<1x8x2x8xf32>, tensor<1x8x2x16xf32>) -> tensor<1x16x2x16xf32>
  %awm, %memory1, %lnt1 = gecko.working_memory chunked %aqh, %akh, %vh memory(%memory, %lnt) cache(%awm_k, %cache_v) {chunk_size = 8 : i64} : (tensor<1x16x2x8xf32>, tensor<1x16x2x8xf32>, tensor<1x16x2x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8xf32>, tensor<1x8x2x8xf32>, tensor<1x8x2x16xf32>) -> (tensor<1x16x2x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8xf32>)

  // attn = sca * r + awm; out = wh1(mx) + wh2(attn) + x.
  %sca2 = tensor.collapse_shape %sca [[0, 1], [2, 3]] : tensor<1x16x2x16xf32> into tensor<16x32xf32>
  %awm2 = tensor.collapse_shape %awm [[0, 1], [2, 3]] : tensor<1x16x2x16xf32> into tensor<16x32xf32>
  %attn = linalg.generic {indexing_maps = [#id2, #id2, #id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%sca2, %r2, %awm2 : tensor<16x32xf32>, tensor<16x32xf32>, tensor<16x32xf32>) outs(%e32 : tensor<16x32xf32>) {
  ^bb0(%s: f32, %r: f32, %a: f32, %o: f32):
    %sr = arith.mulf %s, %r : f32
    %sum = arith.addf %sr, %a : f32
    linalg.yield %sum : f32
  } -> tensor<16x32xf32>
  %x2 = tensor.collapse_shape %x [[0, 1], [2]] : tensor<1x16x32xf32> into tensor<16x32xf32>
  %bh12 = linalg.broadcast ins(%bh1 : tensor<32xf32>) outs(%e32 : tensor<16x32xf32>) dimensions = [0]
  %acc0 = linalg.add ins(%bh12, %x2 : tensor<16x32xf32>, tensor<16x32xf32>) outs(%e32 : tensor<16x32xf32>) -> tensor<16x32xf32>
  %acc1 = linalg.matmul ins(%mx2, %wh1 : tensor<16x32xf32>, tensor<32x32xf32>) outs(%acc0 : tensor<16x32xf32>) -> tensor<16x32xf32>
  %mega2 = linalg.matmul ins(%attn, %wh2 : tensor<16x32xf32>, tensor<32x32xf32>) outs(%acc1 : tensor<16x32xf32>) -> tensor<16x32xf32>

  // NFFN: y = fc2(silu(fc1 n) * fc3 n) + mega, n = LayerNorm(mega).
  %mega = tensor.expand_shape %mega2 [[0, 1], [2]] output_shape [1, 16, 32] : tensor<16x32xf32> into tensor<1x16x32xf32>
  %n = gecko.layer_norm %mega weight(%ln_w) bias(%ln_b) {eps = 1.000000e-05 : f64, num_groups = 1 : i64} : (tensor<1x16x32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<1x16x32xf32>
  %n2 = tensor.collapse_shape %n [[0, 1], [2]] : tensor<1x16x32xf32> into tensor<16x32xf32>
  %e64 = tensor.empty() : tensor<16x64xf32>
  %f64z = linalg.fill ins(%zero : f32) outs(%e64 : tensor<16x64xf32>) -> tensor<16x64xf32>
  %h1 = linalg.matmul ins(%n2, %fc1 : tensor<16x32xf32>, tensor<32x64xf32>) outs(%f64z : tensor<16x64xf32>) -> tensor<16x64xf32>
  %h3 = linalg.matmul ins(%n2, %fc3 : tensor<16x32xf32>, tensor<32x64xf32>) outs(%f64z : tensor<16x64xf32>) -> tensor<16x64xf32>
  %hid = gecko.swiglu %h1, %h3 : tensor<16x64xf32>
  %y2 = linalg.matmul ins(%hid, %fc2 : tensor<16x64xf32>, tensor<64x32xf32>) outs(%mega2 : tensor<16x32xf32>) -> tensor<16x32xf32>
  %y = tensor.expand_shape %y2 [[0, 1], [2]] output_shape [1, 16, 32] : tensor<16x32xf32> into tensor<1x16x32xf32>

  // New caches: the last chunk of rotated keys, values and memory keys.
  %sca_k1 = tensor.extract_slice %kr[0, 8, 0, 0] [1, 8, 2, 8] [1, 1, 1, 1] : tensor<1x16x2x8xf32> to tensor<1x8x2x8xf32>
  %cache_v1 = tensor.extract_slice %vh[0, 8, 0, 0] [1, 8, 2, 16] [1, 1, 1, 1] : tensor<1x16x2x16xf32> to tensor<1x8x2x16xf32>
  %awm_k1 = tensor.extract_slice %akh[0, 8, 0, 0] [1, 8, 2, 8] [1, 1, 1, 1] : tensor<1x16x2x8xf32> to tensor<1x8x2x8xf32>
  return %y, %count1, %mean1, %var1, %hx1, %sca_k1, %cache_v1, %awm_k1, %memory1, %lnt1
      : tensor<1x16x32xf32>, tensor<1xi64>, tensor<1x4xf32>, tensor<1x4xf32>,
        tensor<1x32x4xcomplex<f32>>, tensor<1x8x2x8xf32>, tensor<1x8x2x16xf32>,
        tensor<1x8x2x8xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8xf32>
}

// silu(a) = a * sigmoid(a)
func.func private @silu(%a: tensor<16x32xf32>) -> tensor<16x32xf32> {
  %e = tensor.empty() : tensor<16x32xf32>
  %s = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<16x32xf32>) outs(%e : tensor<16x32xf32>) {
  ^bb0(%in: f32, %o: f32):
    %one = arith.constant 1.0 : f32
    %neg = arith.negf %in : f32
    %exp = math.exp %neg : f32
    %den = arith.addf %one, %exp : f32
    %r = arith.divf %in, %den : f32
    linalg.yield %r : f32
  } -> tensor<16x32xf32>
  return %s : tensor<16x32xf32>
}
