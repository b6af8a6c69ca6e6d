// RUN: gecko-opt %s --gecko-autodiff | FileCheck %s

// TSN -> CEMA with carried state: cotangents for y and for the returned
// TSN mean/var and CEMA state become the grad ops' state gradients; the
// grad ops come in reverse order (cema_grad, cema_coeffs_grad,
// timestep_norm_grad) and tsn's output, used by cema and by the residual
// add, gets the sum of both adjoints. count (i64) gets no gradient.
func.func @tsn_cema(%x: tensor<2x5x4xf32>, %w: tensor<4xf32>, %b: tensor<4xf32>,
                    %count: tensor<2xi64>, %mean: tensor<2x2xf32>, %var: tensor<2x2xf32>,
                    %alpha: tensor<4x3xf32>, %delta: tensor<4x3xf32>,
                    %theta: tensor<4xf32>, %gamma: tensor<4x3x2xf32>,
                    %hx: tensor<2x4x3xcomplex<f32>>)
    -> (tensor<2x5x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>,
        tensor<2x4x3xcomplex<f32>>) attributes {gecko.differentiate} {
  %y, %c, %m, %v = gecko.timestep_norm %x, %w, %b state(%count, %mean, %var)
      {num_groups = 2 : i64, beta1 = 0.9 : f64, beta2 = 0.99 : f64, eps = 1.0e-05 : f64}
      : (tensor<2x5x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xi64>,
         tensor<2x2xf32>, tensor<2x2xf32>)
      -> (tensor<2x5x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>)
  %p, %q, %g = gecko.cema_coeffs %alpha, %delta, %theta, %gamma
      : (tensor<4x3xf32>, tensor<4x3xf32>, tensor<4xf32>, tensor<4x3x2xf32>)
      -> (tensor<4x3xf32>, tensor<4x3xcomplex<f32>>, tensor<4x3xcomplex<f32>>)
  %ce, %h = gecko.cema %y, %p, %q, %g state(%hx)
      : (tensor<2x5x4xf32>, tensor<4x3xf32>, tensor<4x3xcomplex<f32>>,
         tensor<4x3xcomplex<f32>>, tensor<2x4x3xcomplex<f32>>)
      -> (tensor<2x5x4xf32>, tensor<2x4x3xcomplex<f32>>)
  %e = tensor.empty() : tensor<2x5x4xf32>
  %out = linalg.add ins(%ce, %y : tensor<2x5x4xf32>, tensor<2x5x4xf32>) outs(%e : tensor<2x5x4xf32>) -> tensor<2x5x4xf32>
  return %out, %c, %m, %v, %h : tensor<2x5x4xf32>, tensor<2xi64>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x4x3xcomplex<f32>>
}

// CHECK-LABEL: func.func @tsn_cema_grad(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<2x5x4xf32>, %[[W:[^:]+]]: tensor<4xf32>, %[[B:[^:]+]]: tensor<4xf32>, %[[CNT:[^:]+]]: tensor<2xi64>, %[[MEAN:[^:]+]]: tensor<2x2xf32>, %[[VAR:[^:]+]]: tensor<2x2xf32>,
// CHECK-SAME:    %[[HX:[^:]+]]: tensor<2x4x3xcomplex<f32>>, %[[DOUT:[^:]+]]: tensor<2x5x4xf32>, %[[DM:[^:]+]]: tensor<2x2xf32>, %[[DV:[^:]+]]: tensor<2x2xf32>, %[[DH:[^:]+]]: tensor<2x4x3xcomplex<f32>>)
// CHECK-SAME:    -> (tensor<2x5x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<4x3xf32>, tensor<4x3xf32>, tensor<4xf32>, tensor<4x3x2xf32>, tensor<2x4x3xcomplex<f32>>)
// CHECK:         %[[Y:[^,]+]], {{.*}} = gecko.timestep_norm %[[X]]
// CHECK:         %[[P:[^,]+]], %[[Q:[^,]+]], %[[GC:[^ ]+]] = gecko.cema_coeffs
// CHECK:         gecko.cema %[[Y]], %[[P]], %[[Q]], %[[GC]] state(%[[HX]])
// CHECK:         %[[CDX:[^,]+]], %[[CDP:[^,]+]], %[[CDQ:[^,]+]], %[[CDG:[^,]+]], %[[CDH:[^ ]+]] = gecko.cema_grad %[[Y]], %[[P]], %[[Q]], %[[GC]] state(%[[HX]]) grad(%[[DOUT]]) state_grad(%[[DH]])
// CHECK:         %[[DYSUM:.+]] = linalg.generic {{.*}} ins(%[[DOUT]], %[[CDX]] :
// CHECK:           arith.addf
// CHECK:         %[[PA:[^,]+]], %[[PD:[^,]+]], %[[PT:[^,]+]], %[[PG:[^ ]+]] = gecko.cema_coeffs_grad {{.*}} grad(%[[CDP]], %[[CDQ]], %[[CDG]])
// CHECK:         %[[TX:[^,]+]], %[[TW:[^,]+]], %[[TB:[^,]+]], %[[TM:[^,]+]], %[[TV:[^ ]+]] = gecko.timestep_norm_grad %[[X]], %[[W]], %[[B]] state(%[[CNT]], %[[MEAN]], %[[VAR]]) grad(%[[DYSUM]]) state_grads(%[[DM]], %[[DV]])
// CHECK:         return %[[TX]], %[[TW]], %[[TB]], %[[TM]], %[[TV]], %[[PA]], %[[PD]], %[[PT]], %[[PG]], %[[CDH]] :

// SCA + AWM sharing v (adjoints summed), rope on q/k with the start
// position as an operand, z split at the root.
func.func @attention(%z: tensor<1x8x8xf32>, %gamma: tensor<4x8xf32>, %beta: tensor<4x8xf32>,
                     %v: tensor<1x8x2x3xf32>, %start: i64) -> tensor<1x8x2x3xf32>
    attributes {gecko.differentiate} {
  %q, %k, %aq, %ak = gecko.z_split %z, %gamma, %beta {num_heads = 2 : i64, eps = 1.0e-05 : f64}
      : (tensor<1x8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>)
      -> (tensor<1x8x8xf32>, tensor<1x8x8xf32>, tensor<1x8x8xf32>, tensor<1x8x8xf32>)
  %qh = tensor.expand_shape %q [[0], [1], [2, 3]] output_shape [1, 8, 2, 4] : tensor<1x8x8xf32> into tensor<1x8x2x4xf32>
  %kh = tensor.expand_shape %k [[0], [1], [2, 3]] output_shape [1, 8, 2, 4] : tensor<1x8x8xf32> into tensor<1x8x2x4xf32>
  %aqh = tensor.expand_shape %aq [[0], [1], [2, 3]] output_shape [1, 8, 2, 4] : tensor<1x8x8xf32> into tensor<1x8x2x4xf32>
  %akh = tensor.expand_shape %ak [[0], [1], [2, 3]] output_shape [1, 8, 2, 4] : tensor<1x8x8xf32> into tensor<1x8x2x4xf32>
  %qr = gecko.rope %qh start(%start) {base = 10000.0 : f64} : (tensor<1x8x2x4xf32>, i64) -> tensor<1x8x2x4xf32>
  %kr = gecko.rope %kh start(%start) {base = 10000.0 : f64} : (tensor<1x8x2x4xf32>, i64) -> tensor<1x8x2x4xf32>
  %sca = gecko.chunk_attention chunked %qr, %kr, %v {causal, chunk_size = 4 : i64}
      : (tensor<1x8x2x4xf32>, tensor<1x8x2x4xf32>, tensor<1x8x2x3xf32>) -> tensor<1x8x2x3xf32>
  %awm, %mem, %lnt = gecko.working_memory chunked %aqh, %akh, %v {chunk_size = 4 : i64}
      : (tensor<1x8x2x4xf32>, tensor<1x8x2x4xf32>, tensor<1x8x2x3xf32>)
      -> (tensor<1x8x2x3xf32>, tensor<1x2x4x3xf32>, tensor<1x2x4xf32>)
  %e = tensor.empty() : tensor<1x8x2x3xf32>
  %out = linalg.add ins(%sca, %awm : tensor<1x8x2x3xf32>, tensor<1x8x2x3xf32>) outs(%e : tensor<1x8x2x3xf32>) -> tensor<1x8x2x3xf32>
  return %out : tensor<1x8x2x3xf32>
}

// CHECK-LABEL: func.func @attention_grad(
// CHECK-SAME:    %[[Z:[^:]+]]: tensor<1x8x8xf32>, %[[GA:[^:]+]]: tensor<4x8xf32>, %[[BE:[^:]+]]: tensor<4x8xf32>, %[[V:[^:]+]]: tensor<1x8x2x3xf32>, %[[START:[^:]+]]: i64, %[[DOUT:[^:]+]]: tensor<1x8x2x3xf32>)
// CHECK-SAME:    -> (tensor<1x8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<1x8x2x3xf32>)
// CHECK:         %[[DAQ:[^,]+]], %[[DAK:[^,]+]], %[[WDV:[^ ]+]] = gecko.working_memory_grad chunked {{.*}} grad(%[[DOUT]])
// CHECK:         %[[DQ:[^,]+]], %[[DK:[^,]+]], %[[ADV:[^ ]+]] = gecko.chunk_attention_grad chunked {{.*}} grad(%[[DOUT]]) {causal, chunk_size = 4 : i64}
// CHECK:         %[[DVSUM:.+]] = linalg.generic {{.*}} ins(%[[WDV]], %[[ADV]] :
// CHECK:         %[[RK:.+]] = gecko.rope_grad %[[DK]] start(%[[START]])
// CHECK:         %[[RQ:.+]] = gecko.rope_grad %[[DQ]] start(%[[START]])
// CHECK:         %[[FAK:.+]] = tensor.collapse_shape %[[DAK]]
// CHECK:         %[[FAQ:.+]] = tensor.collapse_shape %[[DAQ]]
// CHECK:         %[[FK:.+]] = tensor.collapse_shape %[[RK]]
// CHECK:         %[[FQ:.+]] = tensor.collapse_shape %[[RQ]]
// CHECK:         %[[ZD:[^,]+]], %[[ZG:[^,]+]], %[[ZB:[^ ]+]] = gecko.z_split_grad %[[Z]], %[[GA]], %[[BE]] grad(%[[FQ]], %[[FK]], %[[FAQ]], %[[FAK]])
// CHECK:         return %[[ZD]], %[[ZG]], %[[ZB]], %[[DVSUM]] :
