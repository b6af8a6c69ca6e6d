// gecko.working_memory(_grad) at a long sequence (L = 1037 = 17 chunks of
// 61, 4 heads, dz 64, dv 128): the (L, dv) output and the chunk buffers
// would need ~900 KB of workgroup memory; gecko-map-forall-to-gpu keeps
// the small buffers there within its budget (48 KiB) and gives each block
// a slice of a host-allocated global scratch buffer for the rest.
func.func @wm(%q: tensor<2x1037x4x64xf32>, %k: tensor<2x1037x4x64xf32>, %v: tensor<2x1037x4x128xf32>) -> (tensor<2x1037x4x128xf32>, tensor<2x4x64x128xf32>, tensor<2x4x64xf32>) {
  %out, %nm, %nz = gecko.working_memory chunked %q, %k, %v {chunk_size = 61 : i64} : (tensor<2x1037x4x64xf32>, tensor<2x1037x4x64xf32>, tensor<2x1037x4x128xf32>) -> (tensor<2x1037x4x128xf32>, tensor<2x4x64x128xf32>, tensor<2x4x64xf32>)
  return %out, %nm, %nz : tensor<2x1037x4x128xf32>, tensor<2x4x64x128xf32>, tensor<2x4x64xf32>
}

func.func @wm_grad(%q: tensor<2x1037x4x64xf32>, %k: tensor<2x1037x4x64xf32>, %v: tensor<2x1037x4x128xf32>, %do: tensor<2x1037x4x128xf32>) -> (tensor<2x1037x4x64xf32>, tensor<2x1037x4x64xf32>, tensor<2x1037x4x128xf32>) {
  %dq, %dk, %dv = gecko.working_memory_grad chunked %q, %k, %v grad(%do) {chunk_size = 61 : i64} : tensor<2x1037x4x64xf32>, tensor<2x1037x4x64xf32>, tensor<2x1037x4x128xf32>, tensor<2x1037x4x128xf32> -> tensor<2x1037x4x64xf32>, tensor<2x1037x4x64xf32>, tensor<2x1037x4x128xf32>
  return %dq, %dk, %dv : tensor<2x1037x4x64xf32>, tensor<2x1037x4x64xf32>, tensor<2x1037x4x128xf32>
}
