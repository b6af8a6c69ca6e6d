// The model-graph ops at sizes that are not multiples of the tiles
// (37 tokens, 3 batch rows): embedding gather (clamped ids), swiglu (bf16,
// and rank 1), cross entropy (per-tile partial losses reduced
// deterministically).
func.func @embedding(%table: tensor<50x24xf32>, %ids: tensor<3x37xi64>) -> tensor<3x37x24xf32> {
  %out = gecko.embedding %table[%ids] : (tensor<50x24xf32>, tensor<3x37xi64>) -> tensor<3x37x24xf32>
  return %out : tensor<3x37x24xf32>
}

func.func @swiglu(%gate: tensor<3x37x24xbf16>, %up: tensor<3x37x24xbf16>) -> tensor<3x37x24xbf16> {
  %out = gecko.swiglu %gate, %up : tensor<3x37x24xbf16>
  return %out : tensor<3x37x24xbf16>
}

func.func @swiglu_rank1(%gate: tensor<77xf32>, %up: tensor<77xf32>) -> tensor<77xf32> {
  %out = gecko.swiglu %gate, %up : tensor<77xf32>
  return %out : tensor<77xf32>
}

func.func @cross_entropy(%logits: tensor<3x37x50xf32>, %labels: tensor<3x37xi64>) -> tensor<f32> {
  %loss = gecko.cross_entropy %logits, %labels : (tensor<3x37x50xf32>, tensor<3x37xi64>) -> tensor<f32>
  return %loss : tensor<f32>
}
