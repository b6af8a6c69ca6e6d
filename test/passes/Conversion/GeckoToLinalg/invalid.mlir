// RUN: gecko-opt %s --gecko-convert-to-linalg --split-input-file --verify-diagnostics

// Ops the pass cannot lower yet are reported, never left half-converted.
func.func @rope_dynamic(%x: tensor<?x7x3x6xf32>, %start: index) -> tensor<?x7x3x6xf32> {
  // expected-error @below {{supports only static shapes}}
  %y = gecko.rope %x start(%start) {base = 10000.0 : f64}
      : (tensor<?x7x3x6xf32>, index) -> tensor<?x7x3x6xf32>
  return %y : tensor<?x7x3x6xf32>
}

// -----

func.func @rms_dynamic(%x: tensor<2x?x8xf32>) -> tensor<2x?x8xf32> {
  // expected-error @below {{supports only static shapes}}
  %y = gecko.rms_norm %x {num_groups = 2 : i64, eps = 1.0e-5 : f64}
      : (tensor<2x?x8xf32>) -> tensor<2x?x8xf32>
  return %y : tensor<2x?x8xf32>
}
