// gecko.chunk_attention(_grad), flash style: chunks of 20 tokens with a
// cache and segment ids (40 tokens, query tile 16 / key tile 8 by default:
// partial tiles in every chunk), 3 heads, d_k 16, d_v 12; an L = 1 decode
// step with a 2C-1 cache (bf16).
func.func @sca(%q: tensor<2x40x3x16xf32>, %k: tensor<2x40x3x16xf32>, %v: tensor<2x40x3x12xf32>, %pk: tensor<2x20x3x16xf32>, %pv: tensor<2x20x3x12xf32>, %s: tensor<2x40xi64>, %ps: tensor<2x20xi64>) -> tensor<2x40x3x12xf32> {
  %out = gecko.chunk_attention chunked %q, %k, %v cache(%pk, %pv) segments(%s, %ps) {causal, chunk_size = 20 : i64} : (tensor<2x40x3x16xf32>, tensor<2x40x3x16xf32>, tensor<2x40x3x12xf32>, tensor<2x20x3x16xf32>, tensor<2x20x3x12xf32>, tensor<2x40xi64>, tensor<2x20xi64>) -> tensor<2x40x3x12xf32>
  return %out : tensor<2x40x3x12xf32>
}

func.func @sca_decode(%q: tensor<2x1x3x16xbf16>, %k: tensor<2x1x3x16xbf16>, %v: tensor<2x1x3x12xbf16>, %pk: tensor<2x39x3x16xbf16>, %pv: tensor<2x39x3x12xbf16>, %s: tensor<2x1xi64>, %ps: tensor<2x39xi64>) -> tensor<2x1x3x12xbf16> {
  %out = gecko.chunk_attention short %q, %k, %v cache(%pk, %pv) segments(%s, %ps) {causal, chunk_size = 20 : i64} : (tensor<2x1x3x16xbf16>, tensor<2x1x3x16xbf16>, tensor<2x1x3x12xbf16>, tensor<2x39x3x16xbf16>, tensor<2x39x3x12xbf16>, tensor<2x1xi64>, tensor<2x39xi64>) -> tensor<2x1x3x12xbf16>
  return %out : tensor<2x1x3x12xbf16>
}

func.func @sca_grad(%q: tensor<2x40x3x16xf32>, %k: tensor<2x40x3x16xf32>, %v: tensor<2x40x3x12xf32>, %pk: tensor<2x20x3x16xf32>, %pv: tensor<2x20x3x12xf32>, %do: tensor<2x40x3x12xf32>) -> (tensor<2x40x3x16xf32>, tensor<2x40x3x16xf32>, tensor<2x40x3x12xf32>, tensor<2x20x3x16xf32>, tensor<2x20x3x12xf32>) {
  %dq, %dk, %dv, %dpk, %dpv = gecko.chunk_attention_grad chunked %q, %k, %v cache(%pk, %pv) grad(%do) {causal, chunk_size = 20 : i64} : tensor<2x40x3x16xf32>, tensor<2x40x3x16xf32>, tensor<2x40x3x12xf32>, tensor<2x20x3x16xf32>, tensor<2x20x3x12xf32>, tensor<2x40x3x12xf32> -> tensor<2x40x3x16xf32>, tensor<2x40x3x16xf32>, tensor<2x40x3x12xf32> cache(tensor<2x20x3x16xf32>, tensor<2x20x3x12xf32>)
  return %dq, %dk, %dv, %dpk, %dpv : tensor<2x40x3x16xf32>, tensor<2x40x3x16xf32>, tensor<2x40x3x12xf32>, tensor<2x20x3x16xf32>, tensor<2x20x3x12xf32>
}
