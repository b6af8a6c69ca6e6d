// RUN: gecko-opt %s --gecko-autodiff | FileCheck %s

// linear (with bias) -> silu -> gated_add(silu, x, gate) -> linear (no bias): each
// gecko op becomes its `_grad` twin; %x feeds both the linear and the
// residual gated_add, so its adjoint is a sum.
func.func @dense(%x: tensor<2x3x5xf32>, %w: tensor<5x5xf32>, %b: tensor<5xf32>,
                 %g: tensor<2x3x5xf32>, %w2: tensor<7x5xf32>) -> tensor<2x3x7xf32>
    attributes {gecko.differentiate} {
  %h = gecko.linear %x, %w bias(%b)
      : (tensor<2x3x5xf32>, tensor<5x5xf32>, tensor<5xf32>) -> tensor<2x3x5xf32>
  %s = gecko.silu %h : tensor<2x3x5xf32>
  %r = gecko.gated_add %s, %x gate(%g)
      : (tensor<2x3x5xf32>, tensor<2x3x5xf32>, tensor<2x3x5xf32>) -> tensor<2x3x5xf32>
  %y = gecko.linear %r, %w2 : (tensor<2x3x5xf32>, tensor<7x5xf32>) -> tensor<2x3x7xf32>
  return %y : tensor<2x3x7xf32>
}

// CHECK-LABEL: func.func @dense_grad(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<2x3x5xf32>, %[[W:[^:]+]]: tensor<5x5xf32>, %[[B:[^:]+]]: tensor<5xf32>, %[[G:[^:]+]]: tensor<2x3x5xf32>, %[[W2:[^:]+]]: tensor<7x5xf32>, %[[DY:[^:]+]]: tensor<2x3x7xf32>)
// CHECK-SAME:    -> (tensor<2x3x5xf32>, tensor<5x5xf32>, tensor<5xf32>, tensor<2x3x5xf32>, tensor<7x5xf32>)
// Recomputed forward.
// CHECK:         %[[H:.+]] = gecko.linear %[[X]], %[[W]] bias(%[[B]])
// CHECK:         %[[S:.+]] = gecko.silu %[[H]]
// CHECK:         %[[R:.+]] = gecko.gated_add %[[S]], %[[X]] gate(%[[G]])
// CHECK:         gecko.linear %[[R]], %[[W2]] :
// Reverse sweep.
// CHECK:         %[[DR:[^,]+]], %[[DW2:[^ ]+]] = gecko.linear_grad %[[R]], %[[W2]] grad(%[[DY]]) : {{.*}} -> tensor<2x3x5xf32>, tensor<7x5xf32>
// CHECK-NOT:     bias
// CHECK:         %[[DS:[^,]+]], %[[DXRES:[^,]+]], %[[DG:[^ ]+]] = gecko.gated_add_grad %[[S]], %[[X]] gate(%[[G]]) grad(%[[DR]]) : {{.*}} -> tensor<2x3x5xf32>, tensor<2x3x5xf32> gate(tensor<2x3x5xf32>)
// CHECK:         %[[DH:.+]] = gecko.silu_grad %[[H]] grad(%[[DS]]) : tensor<2x3x5xf32>
// CHECK:         %[[DXLIN:[^,]+]], %[[DW:[^,]+]], %[[DB:[^ ]+]] = gecko.linear_grad %[[X]], %[[W]] bias(%[[B]]) grad(%[[DH]]) : {{.*}} -> tensor<2x3x5xf32>, tensor<5x5xf32> bias(tensor<5xf32>)
// The two adjoints of x are summed.
// CHECK:         %[[DX:.+]] = linalg.generic {{.*}} ins(%[[DXRES]], %[[DXLIN]] :
// CHECK:           arith.addf
// CHECK:         return %[[DX]], %[[DW]], %[[DB]], %[[DG]], %[[DW2]] :

// Without bias and gate: plain sum and no optional results.
func.func @plain(%a: tensor<4x3xf32>, %c: tensor<4x3xf32>, %w: tensor<2x3xf32>) -> tensor<4x2xf32>
    attributes {gecko.differentiate} {
  %s = gecko.gated_add %a, %c : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  %y = gecko.linear %s, %w : (tensor<4x3xf32>, tensor<2x3xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// CHECK-LABEL: func.func @plain_grad(
// CHECK:         %[[DS2:[^,]+]], %[[DWP:[^ ]+]] = gecko.linear_grad {{.*}} -> tensor<4x3xf32>, tensor<2x3xf32>{{$}}
// CHECK:         %[[DA:[^,]+]], %[[DC:[^ ]+]] = gecko.gated_add_grad %{{[^ ]+}}, %{{[^ ]+}} grad(%[[DS2]]) : {{.*}} -> tensor<4x3xf32>, tensor<4x3xf32>{{$}}
// CHECK:         return %[[DA]], %[[DC]], %[[DWP]] :
