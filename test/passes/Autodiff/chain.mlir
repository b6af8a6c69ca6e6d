// RUN: gecko-opt %s --gecko-autodiff | FileCheck %s
// RUN: gecko-opt %s --gecko-autodiff="functions=unmarked wrt=1 results=0 return-forward=true" | FileCheck %s --check-prefix=OPT

// rms_norm -> linear (collapse, matmul with the transposed weight, bias
// broadcast + add, expand) -> swiglu(h, h): h is used twice, so its adjoint
// is the sum of the two swiglu adjoints.
func.func @mlp(%x: tensor<2x3x8xf32>, %w: tensor<8xf32>, %wl: tensor<4x8xf32>,
               %bl: tensor<4xf32>) -> tensor<2x3x4xf32>
    attributes {gecko.differentiate} {
  %n = gecko.rms_norm %x weight(%w) {num_groups = 2 : i64, eps = 1.0e-05 : f64}
      : (tensor<2x3x8xf32>, tensor<8xf32>) -> tensor<2x3x8xf32>
  %flat = tensor.collapse_shape %n [[0, 1], [2]] : tensor<2x3x8xf32> into tensor<6x8xf32>
  %e = tensor.empty() : tensor<8x4xf32>
  %wt = linalg.transpose ins(%wl : tensor<4x8xf32>) outs(%e : tensor<8x4xf32>) permutation = [1, 0]
  %zero = arith.constant 0.0 : f32
  %e2 = tensor.empty() : tensor<6x4xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e2 : tensor<6x4xf32>) -> tensor<6x4xf32>
  %mm = linalg.matmul ins(%flat, %wt : tensor<6x8xf32>, tensor<8x4xf32>) outs(%acc : tensor<6x4xf32>) -> tensor<6x4xf32>
  %e3 = tensor.empty() : tensor<6x4xf32>
  %bb = linalg.broadcast ins(%bl : tensor<4xf32>) outs(%e3 : tensor<6x4xf32>) dimensions = [0]
  %e4 = tensor.empty() : tensor<6x4xf32>
  %lin = linalg.add ins(%mm, %bb : tensor<6x4xf32>, tensor<6x4xf32>) outs(%e4 : tensor<6x4xf32>) -> tensor<6x4xf32>
  %h = tensor.expand_shape %lin [[0, 1], [2]] output_shape [2, 3, 4] : tensor<6x4xf32> into tensor<2x3x4xf32>
  %y = gecko.swiglu %h, %h : tensor<2x3x4xf32>
  return %y : tensor<2x3x4xf32>
}

// CHECK-LABEL: func.func @mlp(
// CHECK-NOT:     gecko.differentiate
// CHECK-LABEL: func.func @mlp_grad(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<2x3x8xf32>, %[[W:[^:]+]]: tensor<8xf32>, %[[WL:[^:]+]]: tensor<4x8xf32>, %[[BL:[^:]+]]: tensor<4xf32>, %[[DY:[^:]+]]: tensor<2x3x4xf32>)
// CHECK-SAME:    -> (tensor<2x3x8xf32>, tensor<8xf32>, tensor<4x8xf32>, tensor<4xf32>)
// Recomputed forward first.
// CHECK:         %[[N:.+]] = gecko.rms_norm %[[X]] weight(%[[W]])
// CHECK:         %[[MM:.+]] = linalg.matmul
// CHECK:         %[[H:.+]] = tensor.expand_shape
// CHECK:         gecko.swiglu %[[H]], %[[H]]
// Reverse sweep: swiglu's two adjoints (gate, up) are summed onto h.
// CHECK:         %[[DG:.+]] = linalg.generic {{.*}} ins(%[[H]], %[[H]], %[[DY]] :
// CHECK:         %[[DU:.+]] = linalg.generic {{.*}} ins(%[[H]], %[[DY]] :
// CHECK:         %[[DH:.+]] = linalg.generic {{.*}} ins(%[[DG]], %[[DU]] :
// CHECK:           arith.addf
// CHECK:         %[[DLIN:.+]] = tensor.collapse_shape %[[DH]] {{\[}}[0, 1], [2]] : tensor<2x3x4xf32> into tensor<6x4xf32>
// The bias gradient reduces the broadcast row dimension.
// CHECK:         %[[DB:.+]] = linalg.reduce ins(%[[DLIN]] : tensor<6x4xf32>) {{.*}} dimensions = [0]
// matmul: dA = dY·Bᵀ, dB = Aᵀ·dY.
// CHECK:         linalg.transpose
// CHECK:         %[[DFLAT:.+]] = linalg.matmul ins(%[[DLIN]], {{.*}} : tensor<6x4xf32>, tensor<4x8xf32>)
// CHECK:         linalg.transpose
// CHECK:         %[[DWT:.+]] = linalg.matmul ins({{.*}}, %[[DLIN]] : tensor<8x6xf32>, tensor<6x4xf32>)
// CHECK:         %[[DWL:.+]] = linalg.transpose ins(%[[DWT]] : tensor<8x4xf32>) {{.*}} permutation = [1, 0]
// CHECK:         %[[DN:.+]] = tensor.expand_shape %[[DFLAT]]
// CHECK:         %[[GX:[^,]+]], %[[GW:[^ ]+]] = gecko.rms_norm_grad %[[X]] weight(%[[W]]) grad(%[[DN]]) {eps = 1.000000e-05 : f64, num_groups = 2 : i64}
// CHECK:         return %[[GX]], %[[GW]], %[[DWL]], %[[DB]] :

// OPT-LABEL: func.func @unmarked_grad(
// OPT-SAME:    %{{[^:]+}}: tensor<2x4xf32>, %{{[^:]+}}: tensor<4xf32>, %[[DY:[^:]+]]: tensor<2x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>, tensor<4xf32>)
// OPT:         %[[Y:.+]] = gecko.layer_norm
// OPT:         %[[Z:.+]] = gecko.layer_norm
// OPT:         %{{[^,]+}}, %[[GW:[^ ]+]] = gecko.layer_norm_grad {{.*}} weight(%{{.*}}) grad(%[[DY]])
// OPT-NOT:     gecko.layer_norm_grad
// OPT:         return %[[Y]], %[[Z]], %[[GW]] :
func.func @unmarked(%x: tensor<2x4xf32>, %w: tensor<4xf32>)
    -> (tensor<2x4xf32>, tensor<2x4xf32>) {
  %y = gecko.layer_norm %x weight(%w) {num_groups = 1 : i64, eps = 1.0e-05 : f64}
      : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %z = gecko.layer_norm %x {num_groups = 1 : i64, eps = 1.0e-05 : f64}
      : (tensor<2x4xf32>) -> tensor<2x4xf32>
  return %y, %z : tensor<2x4xf32>, tensor<2x4xf32>
}
