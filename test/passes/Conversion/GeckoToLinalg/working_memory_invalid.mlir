// RUN: gecko-opt %s --gecko-convert-to-linalg --split-input-file --verify-diagnostics

// The chunked path with a cache but no memory is not a valid stream state
// (spec §6, the reference rejects it too); the lowering reports it.
func.func @wm_cache_without_memory(%q: tensor<1x4x1x4xf32>, %v: tensor<1x4x1x3xf32>, %pk: tensor<1x4x1x4xf32>, %pv: tensor<1x4x1x3xf32>) {
  // expected-error @below {{the chunked path needs a memory when a cache is given}}
  %out, %m, %z = gecko.working_memory chunked %q, %q, %v cache(%pk, %pv) {chunk_size = 4 : i64} : (tensor<1x4x1x4xf32>, tensor<1x4x1x4xf32>, tensor<1x4x1x3xf32>, tensor<1x4x1x4xf32>, tensor<1x4x1x3xf32>) -> (tensor<1x4x1x3xf32>, tensor<1x1x4x3xf32>, tensor<1x1x4xf32>)
  return
}

// -----

func.func @wm_dynamic(%q: tensor<?x4x1x4xf32>, %v: tensor<?x4x1x3xf32>) {
  // expected-error @below {{supports only static shapes}}
  %out, %m, %z = gecko.working_memory chunked %q, %q, %v {chunk_size = 4 : i64} : (tensor<?x4x1x4xf32>, tensor<?x4x1x4xf32>, tensor<?x4x1x3xf32>) -> (tensor<?x4x1x3xf32>, tensor<?x1x4x3xf32>, tensor<?x1x4xf32>)
  return
}
