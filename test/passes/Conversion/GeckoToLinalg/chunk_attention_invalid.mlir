// RUN: gecko-opt %s --gecko-convert-to-linalg -verify-diagnostics
// RUN: not gecko-opt %s --gecko-convert-to-linalg="attention-key-tile=0" 2>&1 | FileCheck %s --check-prefix=TILE
// TILE: gecko-convert-to-linalg: attention tile sizes must be positive

// Dynamic shapes are reported on the op.
func.func @dynamic(%q: tensor<2x?x2x4xf32>, %k: tensor<2x?x2x4xf32>, %v: tensor<2x?x2x6xf32>) -> tensor<2x?x2x6xf32> {
  // expected-error @+1 {{supports only statically shaped tensors}}
  %out = gecko.chunk_attention short %q, %k, %v {causal, chunk_size = 4 : i64} : (tensor<2x?x2x4xf32>, tensor<2x?x2x4xf32>, tensor<2x?x2x6xf32>) -> tensor<2x?x2x6xf32>
  return %out : tensor<2x?x2x6xf32>
}
