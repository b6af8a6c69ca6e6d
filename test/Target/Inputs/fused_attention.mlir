// The MEGA attention as the model builder emits it (z_split -> head split ->
// rope -> chunk_attention, working_memory, gated_add(sca, awm, gate r), the §9
// cache rows), for the pipelines' fuse-attention option: chunks of 20 tokens
// (40 tokens, query tile 16 / key tile 8 by default: partial tiles), 3 heads,
// dz 16, dv 12, cache + memory + segments; and a bf16 decode step (L = 1,
// cache of 2C - 1 = 39 tokens: the step writes the pending chunk).
func.func @mega(%z: tensor<2x40x48xf32>, %gamma: tensor<4x48xf32>, %beta: tensor<4x48xf32>, %start: i64, %v: tensor<2x40x3x12xf32>, %r: tensor<2x40x36xf32>, %pk: tensor<2x20x3x16xf32>, %pv: tensor<2x20x3x12xf32>, %apk: tensor<2x20x3x16xf32>, %m: tensor<2x3x16x12xf32>, %lnt: tensor<2x3x16xf32>, %seg: tensor<2x40xi64>, %ps: tensor<2x20xi64>, %pc: tensor<2xi64>) -> (tensor<2x40x36xf32>, tensor<2x20x3x16xf32>, tensor<2x20x3x16xf32>, tensor<2x3x16x12xf32>, tensor<2x3x16xf32>) {
  %q, %k, %aq, %ak = gecko.z_split %z, %gamma, %beta {eps = 1.000000e-05 : f64, num_heads = 3 : i64} : (tensor<2x40x48xf32>, tensor<4x48xf32>, tensor<4x48xf32>) -> (tensor<2x40x48xf32>, tensor<2x40x48xf32>, tensor<2x40x48xf32>, tensor<2x40x48xf32>)
  %qh = tensor.expand_shape %q [[0], [1], [2, 3]] output_shape [2, 40, 3, 16] : tensor<2x40x48xf32> into tensor<2x40x3x16xf32>
  %kh = tensor.expand_shape %k [[0], [1], [2, 3]] output_shape [2, 40, 3, 16] : tensor<2x40x48xf32> into tensor<2x40x3x16xf32>
  %aqh = tensor.expand_shape %aq [[0], [1], [2, 3]] output_shape [2, 40, 3, 16] : tensor<2x40x48xf32> into tensor<2x40x3x16xf32>
  %akh = tensor.expand_shape %ak [[0], [1], [2, 3]] output_shape [2, 40, 3, 16] : tensor<2x40x48xf32> into tensor<2x40x3x16xf32>
  %qr = gecko.rope %qh start(%start) {base = 5.000000e+05 : f64} : (tensor<2x40x3x16xf32>, i64) -> tensor<2x40x3x16xf32>
  %kr = gecko.rope %kh start(%start) {base = 5.000000e+05 : f64} : (tensor<2x40x3x16xf32>, i64) -> tensor<2x40x3x16xf32>
  %sca = gecko.chunk_attention chunked %qr, %kr, %v cache(%pk, %pv) segments(%seg, %ps) {causal, chunk_size = 20 : i64} : (tensor<2x40x3x16xf32>, tensor<2x40x3x16xf32>, tensor<2x40x3x12xf32>, tensor<2x20x3x16xf32>, tensor<2x20x3x12xf32>, tensor<2x40xi64>, tensor<2x20xi64>) -> tensor<2x40x3x12xf32>
  %out, %nm, %nl = gecko.working_memory chunked %aqh, %akh, %v memory(%m, %lnt) cache(%apk, %pv) segments(%seg, %ps, %pc) {chunk_size = 20 : i64} : (tensor<2x40x3x16xf32>, tensor<2x40x3x16xf32>, tensor<2x40x3x12xf32>, tensor<2x3x16x12xf32>, tensor<2x3x16xf32>, tensor<2x20x3x16xf32>, tensor<2x20x3x12xf32>, tensor<2x40xi64>, tensor<2x20xi64>, tensor<2xi64>) -> (tensor<2x40x3x12xf32>, tensor<2x3x16x12xf32>, tensor<2x3x16xf32>)
  %a = tensor.collapse_shape %sca [[0], [1], [2, 3]] : tensor<2x40x3x12xf32> into tensor<2x40x36xf32>
  %b = tensor.collapse_shape %out [[0], [1], [2, 3]] : tensor<2x40x3x12xf32> into tensor<2x40x36xf32>
  %attn = gecko.gated_add %a, %b gate(%r) : (tensor<2x40x36xf32>, tensor<2x40x36xf32>, tensor<2x40x36xf32>) -> tensor<2x40x36xf32>
  %nk = tensor.extract_slice %kr[0, 20, 0, 0] [2, 20, 3, 16] [1, 1, 1, 1] : tensor<2x40x3x16xf32> to tensor<2x20x3x16xf32>
  %nak = tensor.extract_slice %akh[0, 20, 0, 0] [2, 20, 3, 16] [1, 1, 1, 1] : tensor<2x40x3x16xf32> to tensor<2x20x3x16xf32>
  return %attn, %nk, %nak, %nm, %nl : tensor<2x40x36xf32>, tensor<2x20x3x16xf32>, tensor<2x20x3x16xf32>, tensor<2x3x16x12xf32>, tensor<2x3x16xf32>
}

func.func @decode(%z: tensor<2x1x48xbf16>, %gamma: tensor<4x48xbf16>, %beta: tensor<4x48xbf16>, %start: i64, %v: tensor<2x1x3x12xbf16>, %r: tensor<2x1x36xbf16>, %pk: tensor<2x39x3x16xbf16>, %pv: tensor<2x39x3x12xbf16>, %apk: tensor<2x39x3x16xbf16>, %m: tensor<2x3x16x12xbf16>, %lnt: tensor<2x3x16xf32>) -> (tensor<2x1x36xbf16>, tensor<2x40x3x16xbf16>, tensor<2x40x3x16xbf16>, tensor<2x3x16x12xbf16>, tensor<2x3x16xf32>) {
  %q, %k, %aq, %ak = gecko.z_split %z, %gamma, %beta {eps = 1.000000e-05 : f64, num_heads = 3 : i64} : (tensor<2x1x48xbf16>, tensor<4x48xbf16>, tensor<4x48xbf16>) -> (tensor<2x1x48xbf16>, tensor<2x1x48xbf16>, tensor<2x1x48xbf16>, tensor<2x1x48xbf16>)
  %qh = tensor.expand_shape %q [[0], [1], [2, 3]] output_shape [2, 1, 3, 16] : tensor<2x1x48xbf16> into tensor<2x1x3x16xbf16>
  %kh = tensor.expand_shape %k [[0], [1], [2, 3]] output_shape [2, 1, 3, 16] : tensor<2x1x48xbf16> into tensor<2x1x3x16xbf16>
  %aqh = tensor.expand_shape %aq [[0], [1], [2, 3]] output_shape [2, 1, 3, 16] : tensor<2x1x48xbf16> into tensor<2x1x3x16xbf16>
  %akh = tensor.expand_shape %ak [[0], [1], [2, 3]] output_shape [2, 1, 3, 16] : tensor<2x1x48xbf16> into tensor<2x1x3x16xbf16>
  %qr = gecko.rope %qh start(%start) {base = 5.000000e+05 : f64} : (tensor<2x1x3x16xbf16>, i64) -> tensor<2x1x3x16xbf16>
  %kr = gecko.rope %kh start(%start) {base = 5.000000e+05 : f64} : (tensor<2x1x3x16xbf16>, i64) -> tensor<2x1x3x16xbf16>
  %sca = gecko.chunk_attention short %qr, %kr, %v cache(%pk, %pv) {causal, chunk_size = 20 : i64} : (tensor<2x1x3x16xbf16>, tensor<2x1x3x16xbf16>, tensor<2x1x3x12xbf16>, tensor<2x39x3x16xbf16>, tensor<2x39x3x12xbf16>) -> tensor<2x1x3x12xbf16>
  %out, %nm, %nl = gecko.working_memory short %aqh, %akh, %v memory(%m, %lnt) cache(%apk, %pv) {chunk_size = 20 : i64} : (tensor<2x1x3x16xbf16>, tensor<2x1x3x16xbf16>, tensor<2x1x3x12xbf16>, tensor<2x3x16x12xbf16>, tensor<2x3x16xf32>, tensor<2x39x3x16xbf16>, tensor<2x39x3x12xbf16>) -> (tensor<2x1x3x12xbf16>, tensor<2x3x16x12xbf16>, tensor<2x3x16xf32>)
  %a = tensor.collapse_shape %sca [[0], [1], [2, 3]] : tensor<2x1x3x12xbf16> into tensor<2x1x36xbf16>
  %b = tensor.collapse_shape %out [[0], [1], [2, 3]] : tensor<2x1x3x12xbf16> into tensor<2x1x36xbf16>
  %attn = gecko.gated_add %a, %b gate(%r) : (tensor<2x1x36xbf16>, tensor<2x1x36xbf16>, tensor<2x1x36xbf16>) -> tensor<2x1x36xbf16>
  %nk = tensor.concat dim(1) %pk, %kr : (tensor<2x39x3x16xbf16>, tensor<2x1x3x16xbf16>) -> tensor<2x40x3x16xbf16>
  %nak = tensor.concat dim(1) %apk, %akh : (tensor<2x39x3x16xbf16>, tensor<2x1x3x16xbf16>) -> tensor<2x40x3x16xbf16>
  return %attn, %nk, %nak, %nm, %nl : tensor<2x1x36xbf16>, tensor<2x40x3x16xbf16>, tensor<2x40x3x16xbf16>, tensor<2x3x16x12xbf16>, tensor<2x3x16xf32>
}
