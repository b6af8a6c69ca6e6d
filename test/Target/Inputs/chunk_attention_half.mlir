// bf16 / f16 gecko.chunk_attention(_grad) for the tensor-core / MFMA path:
// chunks of 20 tokens with a cache and segment ids (40 tokens; query tile
// 16 / key tile 8 by default, 5 / 3 in the sm_80 / gfx90a runs: partial
// tiles everywhere), 3 heads, d_k 16, d_v 12 (neither a multiple of the
// instructions' n = 8 / 16 for d_v); f16 on the short path without a cache;
// the backward in bf16.
func.func @sca_bf16(%q: tensor<2x40x3x16xbf16>, %k: tensor<2x40x3x16xbf16>, %v: tensor<2x40x3x12xbf16>, %pk: tensor<2x20x3x16xbf16>, %pv: tensor<2x20x3x12xbf16>, %s: tensor<2x40xi64>, %ps: tensor<2x20xi64>) -> tensor<2x40x3x12xbf16> {
  %out = gecko.chunk_attention chunked %q, %k, %v cache(%pk, %pv) segments(%s, %ps) {causal, chunk_size = 20 : i64} : (tensor<2x40x3x16xbf16>, tensor<2x40x3x16xbf16>, tensor<2x40x3x12xbf16>, tensor<2x20x3x16xbf16>, tensor<2x20x3x12xbf16>, tensor<2x40xi64>, tensor<2x20xi64>) -> tensor<2x40x3x12xbf16>
  return %out : tensor<2x40x3x12xbf16>
}

func.func @sca_f16(%q: tensor<1x37x2x16xf16>, %k: tensor<1x37x2x16xf16>, %v: tensor<1x37x2x24xf16>) -> tensor<1x37x2x24xf16> {
  %out = gecko.chunk_attention short %q, %k, %v {causal, chunk_size = 64 : i64} : (tensor<1x37x2x16xf16>, tensor<1x37x2x16xf16>, tensor<1x37x2x24xf16>) -> tensor<1x37x2x24xf16>
  return %out : tensor<1x37x2x24xf16>
}

func.func @sca_grad_bf16(%q: tensor<2x40x3x16xbf16>, %k: tensor<2x40x3x16xbf16>, %v: tensor<2x40x3x12xbf16>, %pk: tensor<2x20x3x16xbf16>, %pv: tensor<2x20x3x12xbf16>, %do: tensor<2x40x3x12xbf16>) -> (tensor<2x40x3x16xbf16>, tensor<2x40x3x16xbf16>, tensor<2x40x3x12xbf16>, tensor<2x20x3x16xbf16>, tensor<2x20x3x12xbf16>) {
  %dq, %dk, %dv, %dpk, %dpv = gecko.chunk_attention_grad chunked %q, %k, %v cache(%pk, %pv) grad(%do) {causal, chunk_size = 20 : i64} : tensor<2x40x3x16xbf16>, tensor<2x40x3x16xbf16>, tensor<2x40x3x12xbf16>, tensor<2x20x3x16xbf16>, tensor<2x20x3x12xbf16>, tensor<2x40x3x12xbf16> -> tensor<2x40x3x16xbf16>, tensor<2x40x3x16xbf16>, tensor<2x40x3x12xbf16> cache(tensor<2x20x3x16xbf16>, tensor<2x20x3x12xbf16>)
  return %dq, %dk, %dv, %dpk, %dpv : tensor<2x40x3x16xbf16>, tensor<2x40x3x16xbf16>, tensor<2x40x3x12xbf16>, tensor<2x20x3x16xbf16>, tensor<2x20x3x12xbf16>
}
