//===- ops_bench.cpp - Compiled gecko ops vs the reference library --------===//
//
// Times every gecko op, forward and backward, compiled by the gecko-to-cpu
// JIT (CpuJit, compiled once, then invoked) against the float64 reference
// library on the same random inputs, at the realistic small-model shape
// B=1, L=4096, D=512, H=2, dz=128, dv=512, C=256, N=16 (L=512 for chunk
// attention and working memory, whose reference is slow). Prints the time,
// the reference/JIT speedup, GFLOP/s, GB/s and the fraction of the roofline
// min-time max(flops / FMA peak, bytes / triad bandwidth) of this machine at
// OMP_NUM_THREADS threads. Each op is one entry: an op whose lowering has not
// landed is reported as "not lowered yet" and starts working on its own.
// Not a test: never run by ctest. See bench/run.sh and docs/benchmarks.md.
//
// JIT times include CpuJit::invoke's copies of the inputs and results (the
// calling convention of the JIT), which is a few ms at 8 MiB per tensor.
//
// Usage: ops_bench [--filter=SUBSTR] [--tsv=PATH] [--min-time=SECONDS]
//                  [--verbose] [--scalar] [--compare-scalar] [--no-ref]
//
// --scalar compiles without the vector stage of gecko-to-cpu; with
// --compare-scalar every op is compiled both ways in the same run and the
// table adds the scalar time, the vector speedup and the largest
// |vector - scalar| / max(1, |scalar|) over all results. --no-ref skips the
// float64 reference. --<option>=N sets a gecko-to-cpu tile option
// (batch-tile-size, token-tile-size, tsn-chunk-size, cema-chunk-size,
// cema-channel-block, attention-query-tile, attention-key-tile,
// vector-inner-tile, contraction-m-tile, contraction-n-tile) for sweeps.
//
//===----------------------------------------------------------------------===//

#include "Roofline.h"

#include "gecko/Conversion/Passes.h"
#include "gecko/Dialect/Gecko/IR/GeckoDialect.h"
#include "gecko/Execution/CpuJit.h"
#include "gecko/Execution/KernelRunner.h"
#include "gecko/Reference/ChunkAttention.h"
#include "gecko/Reference/ComplexEma.h"
#include "gecko/Reference/Norms.h"
#include "gecko/Reference/Rope.h"
#include "gecko/Reference/Tensor.h"
#include "gecko/Reference/TimestepNorm.h"
#include "gecko/Reference/WorkingMemory.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Complex/IR/Complex.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <vector>

using gecko::exec::ElementKind;
using gecko::exec::KernelInput;
using gecko::ref::Tensor;

namespace {

// The realistic small-model shape of the issue.
constexpr int64_t kB = 1, kL = 4096, kD = 512, kH = 2, kDz = 128, kDv = 512,
                  kC = 256, kN = 16;
// Chunk attention / working memory: the float64 reference is too slow at
// L = 4096 for a short run.
constexpr int64_t kLAttention = 512;
constexpr double kEps = 1e-5;

struct OpCase {
  std::string name; // "<op>.fwd" / "<op>.bwd", the key of bench/run.sh
  std::string shape;
  std::string mlir; // module with func @kernel (llvm.emit_c_interface)
  std::vector<KernelInput> inputs;
  std::function<void()> reference;
  double flops = 0, bytes = 0; // per call, a simple model (see the docs)
};

std::mt19937_64 rng(7);

Tensor randomTensor(std::vector<int64_t> shape, double lo = -1.0,
                    double hi = 1.0) {
  Tensor t(std::move(shape));
  std::uniform_real_distribution<double> uniform(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i)
    t[i] = static_cast<double>(static_cast<float>(uniform(rng)));
  return t;
}

std::string tensorType(const std::vector<int64_t> &shape,
                       const std::string &element = "f32") {
  std::string text = "tensor<";
  for (int64_t d : shape)
    text += std::to_string(d) + "x";
  return text + element + ">";
}

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string text;
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? "x" : "") + std::to_string(shape[i]);
  return text;
}

/// func @kernel(%a0: T0, ...) -> (R...) { <body> } where the body's op
/// returns %r#0.. (or named results).
std::string kernel(const std::vector<std::string> &argumentTypes,
                   const std::vector<std::string> &resultTypes,
                   const std::string &op, int numResults) {
  std::string text = "func.func @kernel(";
  for (size_t i = 0; i < argumentTypes.size(); ++i)
    text += (i ? ", %a" : "%a") + std::to_string(i) + ": " + argumentTypes[i];
  text += ") -> (";
  for (size_t i = 0; i < resultTypes.size(); ++i)
    text += (i ? ", " : "") + resultTypes[i];
  text += ") attributes {llvm.emit_c_interface} {\n  %r:" +
          std::to_string(numResults) + " = " + op + "\n  return ";
  for (size_t i = 0; i < resultTypes.size(); ++i)
    text += (i ? ", %r#" : "%r#") + std::to_string(i);
  text += " : ";
  for (size_t i = 0; i < resultTypes.size(); ++i)
    text += (i ? ", " : "") + resultTypes[i];
  return text + "\n}\n";
}

std::string join(const std::vector<std::string> &items) {
  std::string text;
  for (size_t i = 0; i < items.size(); ++i)
    text += (i ? ", " : "") + items[i];
  return text;
}

/// (B, L, H, d) <-> (B, H, L, d) for the working-memory reference layout.
Tensor headsFirst(const Tensor &t) { return t.transposed(1, 2); }

std::vector<OpCase> makeCases() {
  std::vector<OpCase> cases;
  const double n = double(kB * kL * kD); // activation elements
  const std::string act = tensorType({kB, kL, kD});
  const std::string vecD = tensorType({kD});

  // --- rms_norm (G = 1, affine) -----------------------------------------
  {
    Tensor x = randomTensor({kB, kL, kD}), w = randomTensor({kD});
    Tensor dy = randomTensor({kB, kL, kD});
    OpCase fwd{"rms_norm.fwd", shapeText({kB, kL, kD}), "", {}, {}, 4 * n,
               8 * n};
    fwd.mlir = kernel({act, vecD}, {act},
                      "gecko.rms_norm %a0 weight(%a1) {num_groups = 1 : i64, "
                      "eps = 1.0e-5 : f64} : (" +
                          act + ", " + vecD + ") -> " + act,
                      1);
    fwd.inputs = {KernelInput::tensor(x), KernelInput::tensor(w)};
    fwd.reference = [=] { (void)gecko::ref::groupRmsNorm(x, 1, &w, kEps); };
    cases.push_back(fwd);
    OpCase bwd{"rms_norm.bwd", fwd.shape, "", {}, {}, 10 * n, 12 * n};
    bwd.mlir = kernel({act, vecD, act}, {act, vecD},
                      "gecko.rms_norm_grad %a0 weight(%a1) grad(%a2) "
                      "{num_groups = 1 : i64, eps = 1.0e-5 : f64} : " +
                          act + ", " + vecD + ", " + act + " -> " + act +
                          " weight(" + vecD + ")",
                      2);
    bwd.inputs = {KernelInput::tensor(x), KernelInput::tensor(w),
                  KernelInput::tensor(dy)};
    bwd.reference = [=] {
      (void)gecko::ref::groupRmsNormBackward(x, 1, &w, kEps, dy);
    };
    cases.push_back(bwd);
  }

  // --- layer_norm (G = 1, weight and bias) --------------------------------
  {
    Tensor x = randomTensor({kB, kL, kD}), w = randomTensor({kD}),
           b = randomTensor({kD}), dy = randomTensor({kB, kL, kD});
    OpCase fwd{
        "layer_norm.fwd", shapeText({kB, kL, kD}), "", {}, {}, 7 * n, 8 * n};
    fwd.mlir = kernel({act, vecD, vecD}, {act},
                      "gecko.layer_norm %a0 weight(%a1) bias(%a2) "
                      "{num_groups = 1 : i64, eps = 1.0e-5 : f64} : (" +
                          act + ", " + vecD + ", " + vecD + ") -> " + act,
                      1);
    fwd.inputs = {KernelInput::tensor(x), KernelInput::tensor(w),
                  KernelInput::tensor(b)};
    fwd.reference = [=] {
      (void)gecko::ref::groupLayerNorm(x, 1, &w, &b, kEps);
    };
    cases.push_back(fwd);
    OpCase bwd{"layer_norm.bwd", fwd.shape, "", {}, {}, 14 * n, 12 * n};
    bwd.mlir =
        kernel({act, vecD, vecD, act}, {act, vecD, vecD},
               "gecko.layer_norm_grad %a0 weight(%a1) bias(%a2) "
               "grad(%a3) {num_groups = 1 : i64, eps = 1.0e-5 : f64} "
               ": " +
                   act + ", " + vecD + ", " + vecD + ", " + act + " -> " + act +
                   " weight(" + vecD + ") bias(" + vecD + ")",
               3);
    bwd.inputs = {KernelInput::tensor(x), KernelInput::tensor(w),
                  KernelInput::tensor(b), KernelInput::tensor(dy)};
    bwd.reference = [=] {
      (void)gecko::ref::groupLayerNormBackward(x, 1, &w, &b, kEps, dy);
    };
    cases.push_back(bwd);
  }

  // --- z_split: z (B, L, H*dz) -> q, k, aq, ak -------------------------------
  {
    const int64_t z = kH * kDz;
    const double nz = double(kB * kL * z);
    std::string zt = tensorType({kB, kL, z}), gt = tensorType({4, z});
    Tensor zv = randomTensor({kB, kL, z}), gamma = randomTensor({4, z}),
           beta = randomTensor({4, z});
    std::vector<Tensor> d = {
        randomTensor({kB, kL, z}), randomTensor({kB, kL, z}),
        randomTensor({kB, kL, z}), randomTensor({kB, kL, z})};
    OpCase fwd{"z_split.fwd", shapeText({kB, kL, z}), "", {}, {}, 12 * nz,
               20 * nz};
    fwd.mlir = kernel(
        {zt, gt, gt}, {zt, zt, zt, zt},
        "gecko.z_split %a0, %a1, %a2 {num_heads = " + std::to_string(kH) +
            " : i64, eps = 1.0e-5 : f64} : (" + join({zt, gt, gt}) + ") -> (" +
            join({zt, zt, zt, zt}) + ")",
        4);
    fwd.inputs = {KernelInput::tensor(zv), KernelInput::tensor(gamma),
                  KernelInput::tensor(beta)};
    fwd.reference = [=] {
      (void)gecko::ref::zSplitForward(zv, gamma, beta, kH, kEps);
    };
    cases.push_back(fwd);
    OpCase bwd{"z_split.bwd", fwd.shape, "", {}, {}, 24 * nz, 24 * nz};
    bwd.mlir =
        kernel({zt, gt, gt, zt, zt, zt, zt}, {zt, gt, gt},
               "gecko.z_split_grad %a0, %a1, %a2 grad(%a3, %a4, %a5, "
               "%a6) {num_heads = " +
                   std::to_string(kH) + " : i64, eps = 1.0e-5 : f64} : (" +
                   join({zt, gt, gt, zt, zt, zt, zt}) + ") -> (" +
                   join({zt, gt, gt}) + ")",
               3);
    bwd.inputs = {KernelInput::tensor(zv), KernelInput::tensor(gamma),
                  KernelInput::tensor(beta)};
    for (const Tensor &t : d)
      bwd.inputs.push_back(KernelInput::tensor(t));
    bwd.reference = [=] {
      (void)gecko::ref::zSplitBackward(zv, gamma, beta, kH, kEps, &d[0], &d[1],
                                       &d[2], &d[3]);
    };
    cases.push_back(bwd);
  }

  // --- rope on q (B, L, H, dz), all heads, start 1000 ----------------------
  {
    std::vector<int64_t> shape = {kB, kL, kH, kDz};
    const double nr = double(kB * kL * kH * kDz);
    std::string xt = tensorType(shape);
    Tensor x = randomTensor(shape);
    const int64_t start = 1000;
    for (bool backward : {false, true}) {
      OpCase c{backward ? "rope.bwd" : "rope.fwd",
               shapeText(shape),
               "",
               {},
               {},
               3 * nr,
               8 * nr};
      c.mlir = kernel({xt, "i64"}, {xt},
                      std::string(backward ? "gecko.rope_grad" : "gecko.rope") +
                          " %a0 start(%a1) {base = 500000.0 : f64} : (" + xt +
                          ", i64) -> " + xt,
                      1);
      c.inputs = {KernelInput::tensor(x), KernelInput::scalar(start)};
      c.reference = [=] {
        auto table = gecko::ref::ropeTable(kDz, 500000.0, start, start + kL);
        (void)(backward ? gecko::ref::ropeBackward(x, table, kH)
                        : gecko::ref::ropeForward(x, table, kH));
      };
      cases.push_back(c);
    }
  }

  // --- timestep_norm (G = 64 as in the model, fresh state)
  // ------------------------------------
  {
    const int64_t g = 64;
    std::string st = tensorType({kB, g}), ct = tensorType({kB}, "i64");
    Tensor x = randomTensor({kB, kL, kD}), w = randomTensor({kD}),
           b = randomTensor({kD}), dy = randomTensor({kB, kL, kD});
    Tensor count({kB}, 0.0), mean({kB, g}, 0.0), var({kB, g}, 0.0);
    gecko::ref::TimestepNormConfig config;
    config.numGroups = g;
    std::string attrs = "{num_groups = 64 : i64, beta1 = 0.999 : f64, beta2 = "
                        "0.9999 : f64, eps = 1.0e-5 : f64}";
    std::vector<KernelInput> inputs = {
        KernelInput::tensor(x),    KernelInput::tensor(w),
        KernelInput::tensor(b),    KernelInput::tensor(count, ElementKind::I64),
        KernelInput::tensor(mean), KernelInput::tensor(var)};
    OpCase fwd{"timestep_norm.fwd",
               shapeText({kB, kL, kD}),
               "",
               {},
               {},
               10 * n,
               8 * n};
    fwd.mlir =
        kernel({act, vecD, vecD, ct, st, st}, {act, ct, st, st},
               "gecko.timestep_norm %a0, %a1, %a2 state(%a3, %a4, %a5) " +
                   attrs + " : (" + join({act, vecD, vecD, ct, st, st}) +
                   ") -> (" + join({act, ct, st, st}) + ")",
               4);
    fwd.inputs = inputs;
    fwd.reference = [=] {
      (void)gecko::ref::timestepNormForward(x, w, b, config, &count, &mean,
                                            &var, nullptr, nullptr);
    };
    cases.push_back(fwd);
    OpCase bwd{"timestep_norm.bwd", fwd.shape, "", {}, {}, 25 * n, 12 * n};
    bwd.mlir =
        kernel({act, vecD, vecD, ct, st, st, act}, {act, vecD, vecD, st, st},
               "gecko.timestep_norm_grad %a0, %a1, %a2 state(%a3, %a4, "
               "%a5) grad(%a6) " +
                   attrs + " : (" + join({act, vecD, vecD, ct, st, st, act}) +
                   ") -> (" + join({act, vecD, vecD, st, st}) + ")",
               5);
    bwd.inputs = inputs;
    bwd.inputs.push_back(KernelInput::tensor(dy));
    bwd.reference = [=] {
      (void)gecko::ref::timestepNormBackward(x, w, b, config, &count, &mean,
                                             &var, nullptr, nullptr, dy,
                                             nullptr, nullptr);
    };
    cases.push_back(bwd);
  }

  // --- cema: x (B, L, D), N = 16, carried state -----------------------------
  {
    Tensor alpha = randomTensor({kD, kN}, -2, 2),
           delta = randomTensor({kD, kN}, -2, 2), theta = randomTensor({kD}),
           gamma = randomTensor({kD, kN, 2});
    gecko::ref::CemaCoefficients coeffs =
        gecko::ref::cemaCoefficients(alpha, delta, theta, gamma);
    Tensor x = randomTensor({kB, kL, kD}), dy = randomTensor({kB, kL, kD});
    Tensor hx = randomTensor({kB, kD, kN, 2});
    Tensor xRef = x.transposed(1, 2), dyRef = dy.transposed(1, 2);
    std::string pt = tensorType({kD, kN}),
                qt = tensorType({kD, kN}, "complex<f32>"),
                ht = tensorType({kB, kD, kN}, "complex<f32>");
    std::vector<KernelInput> inputs = {
        KernelInput::tensor(x), KernelInput::tensor(coeffs.p),
        KernelInput::tensor(coeffs.q, ElementKind::ComplexF32),
        KernelInput::tensor(coeffs.gamma, ElementKind::ComplexF32),
        KernelInput::tensor(hx, ElementKind::ComplexF32)};
    const double steps = double(kB * kL * kD * kN);
    OpCase fwd{
        "cema.fwd", shapeText({kB, kL, kD}) + " N=16", "", {}, {}, 10 * steps,
        8 * n};
    fwd.mlir = kernel({act, pt, qt, qt, ht}, {act, ht},
                      "gecko.cema %a0, %a1, %a2, %a3 state(%a4) : (" +
                          join({act, pt, qt, qt, ht}) + ") -> (" +
                          join({act, ht}) + ")",
                      2);
    fwd.inputs = inputs;
    fwd.reference = [=] {
      (void)gecko::ref::cemaForward(xRef, coeffs, &hx, nullptr);
    };
    cases.push_back(fwd);
    OpCase bwd{"cema.bwd", fwd.shape, "", {}, {}, 30 * steps, 12 * n};
    bwd.mlir = kernel({act, pt, qt, qt, ht, act}, {act, pt, qt, qt, ht},
                      "gecko.cema_grad %a0, %a1, %a2, %a3 state(%a4) "
                      "grad(%a5) : " +
                          join({act, pt, qt, qt, ht, act}) + " -> " +
                          join({act, pt, qt, qt}) + " state(" + ht + ")",
                      5);
    bwd.inputs = inputs;
    bwd.inputs.push_back(KernelInput::tensor(dy));
    bwd.reference = [=] {
      (void)gecko::ref::cemaBackward(xRef, coeffs, &hx, nullptr, dyRef,
                                     nullptr);
    };
    cases.push_back(bwd);
  }

  // --- the MEGA input chain tsn -> cema -> rms, unfused vs
  // gecko.fused_norm_ema (docs/passes/fusion.md): carried state, tsn returned
  // (wv reads it).
  {
    const int64_t g = 64;
    Tensor x = randomTensor({kB, kL, kD}), w = randomTensor({kD}),
           b = randomTensor({kD}), rw = randomTensor({kD});
    Tensor count({kB}, 3.0), mean = randomTensor({kB, g}),
                             var = randomTensor({kB, g}, 0.1, 1.0);
    gecko::ref::CemaCoefficients coeffs = gecko::ref::cemaCoefficients(
        randomTensor({kD, kN}, -2, 2), randomTensor({kD, kN}, -2, 2),
        randomTensor({kD}), randomTensor({kD, kN, 2}));
    Tensor hx = randomTensor({kB, kD, kN, 2});
    std::string st = tensorType({kB, g}), ct = tensorType({kB}, "i64"),
                pt = tensorType({kD, kN}),
                qt = tensorType({kD, kN}, "complex<f32>"),
                ht = tensorType({kB, kD, kN}, "complex<f32>");
    std::vector<std::string> args = {act, vecD, vecD, ct, st,  st,
                                     pt,  qt,   qt,   ht, vecD};
    std::vector<std::string> results = {act, act, ct, st, st, ht};
    std::string head = "func.func @kernel(";
    for (size_t i = 0; i < args.size(); ++i)
      head += (i ? ", %a" : "%a") + std::to_string(i) + ": " + args[i];
    head +=
        ") -> (" + join(results) + ") attributes {llvm.emit_c_interface} {\n";
    std::string tail = " : " + join(results) + "\n}\n";
    std::string tsnAttrs = "{num_groups = 64 : i64, beta1 = 0.999 : f64, "
                           "beta2 = 0.9999 : f64, eps = 1.0e-5 : f64";
    std::string rmsAttrs = "{num_groups = 1 : i64, eps = 1.0e-5 : f64}";
    std::vector<KernelInput> inputs = {
        KernelInput::tensor(x),
        KernelInput::tensor(w),
        KernelInput::tensor(b),
        KernelInput::tensor(count, ElementKind::I64),
        KernelInput::tensor(mean),
        KernelInput::tensor(var),
        KernelInput::tensor(coeffs.p),
        KernelInput::tensor(coeffs.q, ElementKind::ComplexF32),
        KernelInput::tensor(coeffs.gamma, ElementKind::ComplexF32),
        KernelInput::tensor(hx, ElementKind::ComplexF32),
        KernelInput::tensor(rw)};
    auto reference = [=] {
      gecko::ref::TimestepNormConfig config;
      config.numGroups = g;
      auto norm = gecko::ref::timestepNormForward(
          x, w, b, config, &count, &mean, &var, nullptr, nullptr);
      auto ema = gecko::ref::cemaForward(norm.y.transposed(1, 2), coeffs, &hx,
                                         nullptr);
      (void)gecko::ref::groupRmsNorm(ema.y.transposed(1, 2), 1, &rw, kEps);
    };
    const double steps = double(kB * kL * kD * kN);
    // Activation traffic (docs/passes/fusion.md): 7 s + 8 bytes per element
    // unfused, 5 s fused (s = 4).
    OpCase chain{"norm_ema_rms.chain",
                 shapeText({kB, kL, kD}) + " N=16",
                 "",
                 {},
                 {},
                 14 * n + 10 * steps,
                 36 * n};
    chain.mlir =
        head +
        "  %t, %c, %m, %v = gecko.timestep_norm %a0, %a1, %a2 state(%a3, %a4, "
        "%a5) " +
        tsnAttrs + "} : (" + join({act, vecD, vecD, ct, st, st}) + ") -> (" +
        join({act, ct, st, st}) + ")\n  %ce, %h = gecko.cema %t, %a6, %a7, " +
        "%a8 state(%a9) : (" + join({act, pt, qt, qt, ht}) + ") -> (" +
        join({act, ht}) + ")\n  %y = gecko.rms_norm %ce weight(%a10) " +
        rmsAttrs + " : (" + act + ", " + vecD + ") -> " + act +
        "\n  return %y, %t, %c, %m, %v, %h" + tail;
    chain.inputs = inputs;
    chain.reference = reference;
    cases.push_back(chain);
    OpCase fused{"norm_ema_rms.fused", chain.shape, "", {}, {},
                 chain.flops,          20 * n};
    fused.mlir =
        head +
        "  %r:6 = gecko.fused_norm_ema %a0 norm(%a1, %a2) state(%a3, "
        "%a4, %a5) ema(%a6, %a7, %a8) ema_state(%a9) rms_weight(%a10) " +
        tsnAttrs +
        ", rms_num_groups = 1 : i64, rms_eps = 1.0e-5 : "
        "f64} : (" +
        join(args) + ") -> (" + join(results) +
        ")\n  return %r#0, %r#1, %r#2, %r#3, %r#4, %r#5" + tail;
    fused.inputs = inputs;
    fused.reference = reference;
    cases.push_back(fused);
  }

  // --- chunk_attention: chunked, causal, no cache, L = 1024 ------------------
  {
    const int64_t l = kLAttention;
    std::vector<int64_t> qs = {kB, l, kH, kDz}, vs = {kB, l, kH, kDv};
    std::string qt = tensorType(qs), vt = tensorType(vs);
    Tensor q = randomTensor(qs), k = randomTensor(qs), v = randomTensor(vs),
           dout = randomTensor(vs);
    // Chunk c attends to all of chunk c-1 and causally to chunk c: 1.5 C keys
    // per query on average (C/2 for chunk 0).
    double keys = double(l - kC) * 1.5 * kC + double(kC) * 0.5 * kC;
    double flops = 2.0 * kB * kH * keys * double(kDz + kDv);
    double bytes = 4.0 * kB * l * kH * double(2 * kDz + 2 * kDv);
    OpCase fwd{"chunk_attention.fwd",
               shapeText(qs) + " dv=" + std::to_string(kDv) + " C=256",
               "",
               {},
               {},
               flops,
               bytes};
    fwd.mlir = kernel({qt, qt, vt}, {vt},
                      "gecko.chunk_attention chunked %a0, %a1, %a2 {causal, "
                      "chunk_size = " +
                          std::to_string(kC) + " : i64} : (" +
                          join({qt, qt, vt}) + ") -> " + vt,
                      1);
    fwd.inputs = {KernelInput::tensor(q), KernelInput::tensor(k),
                  KernelInput::tensor(v)};
    fwd.reference = [=] {
      (void)gecko::ref::chunkAttentionForward(q, k, v, kC, {});
    };
    cases.push_back(fwd);
    OpCase bwd{"chunk_attention.bwd", fwd.shape, "", {}, {},
               2.5 * flops,           2 * bytes};
    bwd.mlir =
        kernel({qt, qt, vt, vt}, {qt, qt, vt},
               "gecko.chunk_attention_grad chunked %a0, %a1, %a2 "
               "grad(%a3) {causal, chunk_size = " +
                   std::to_string(kC) + " : i64} : " + join({qt, qt, vt, vt}) +
                   " -> " + join({qt, qt, vt}),
               3);
    bwd.inputs = fwd.inputs;
    bwd.inputs.push_back(KernelInput::tensor(dout));
    bwd.reference = [=] {
      (void)gecko::ref::chunkAttentionBackward(q, k, v, kC, {}, dout);
    };
    cases.push_back(bwd);
  }

  // --- working_memory: chunked, steady state (memory + pending chunk) -----
  {
    const int64_t l = kLAttention;
    std::vector<int64_t> qs = {kB, l, kH, kDz}, vs = {kB, l, kH, kDv},
                         pks = {kB, kC, kH, kDz}, pvs = {kB, kC, kH, kDv},
                         ms = {kB, kH, kDz, kDv}, ls = {kB, kH, kDz};
    std::string qt = tensorType(qs), vt = tensorType(vs), pkt = tensorType(pks),
                pvt = tensorType(pvs), mt = tensorType(ms), lt = tensorType(ls);
    Tensor aq = randomTensor(qs), ak = randomTensor(qs), v = randomTensor(vs),
           pk = randomTensor(pks), pv = randomTensor(pvs),
           memory = randomTensor(ms), lnt = randomTensor(ls, 0.0, 3.0),
           dout = randomTensor(vs);
    Tensor aqRef = headsFirst(aq), akRef = headsFirst(ak), vRef = headsFirst(v),
           pkRef = headsFirst(pk), pvRef = headsFirst(pv),
           doutRef = headsFirst(dout);
    // Read softmax(aq) M: 2 L dz dv per head; one delta-rule write per
    // chunk: ~4 C dz dv per head.
    double flops = double(kB * kH) * (2.0 * l + 4.0 * double(l)) * kDz * kDv;
    double bytes = 4.0 * kB * l * kH * double(2 * kDz + 2 * kDv);
    OpCase fwd{"working_memory.fwd",
               shapeText(qs) + " dv=" + std::to_string(kDv) + " C=256",
               "",
               {},
               {},
               flops,
               bytes};
    fwd.mlir = kernel({qt, qt, vt, mt, lt, pkt, pvt}, {vt, mt, lt},
                      "gecko.working_memory chunked %a0, %a1, %a2 "
                      "memory(%a3, %a4) cache(%a5, %a6) {chunk_size = " +
                          std::to_string(kC) + " : i64} : (" +
                          join({qt, qt, vt, mt, lt, pkt, pvt}) + ") -> (" +
                          join({vt, mt, lt}) + ")",
                      3);
    fwd.inputs = {KernelInput::tensor(aq),  KernelInput::tensor(ak),
                  KernelInput::tensor(v),   KernelInput::tensor(memory),
                  KernelInput::tensor(lnt), KernelInput::tensor(pk),
                  KernelInput::tensor(pv)};
    auto extrasOf = [](const Tensor &m, const Tensor &n, const Tensor &k,
                       const Tensor &vv) {
      gecko::ref::MemoryExtras extras;
      extras.memory = &m;
      extras.lnt = &n;
      extras.prevK = &k;
      extras.prevV = &vv;
      return extras;
    };
    fwd.reference = [=] {
      (void)gecko::ref::memoryChunkedForward(
          aqRef, akRef, vRef, kC, extrasOf(memory, lnt, pkRef, pvRef));
    };
    cases.push_back(fwd);
    OpCase bwd{"working_memory.bwd", fwd.shape, "", {}, {},
               2.5 * flops,          2 * bytes};
    bwd.mlir = kernel(
        {qt, qt, vt, mt, lt, pkt, pvt, vt}, {qt, qt, vt, mt, lt, pkt, pvt},
        "gecko.working_memory_grad chunked %a0, %a1, %a2 "
        "memory(%a3, %a4) cache(%a5, %a6) grad(%a7) "
        "{chunk_size = " +
            std::to_string(kC) +
            " : i64} : " + join({qt, qt, vt, mt, lt, pkt, pvt, vt}) + " -> " +
            join({qt, qt, vt}) + " memory(" + mt + ", " + lt + ") cache(" +
            pkt + ", " + pvt + ")",
        7);
    bwd.inputs = fwd.inputs;
    bwd.inputs.push_back(KernelInput::tensor(dout));
    bwd.reference = [=] {
      (void)gecko::ref::memoryChunkedBackward(
          aqRef, akRef, vRef, kC, extrasOf(memory, lnt, pkRef, pvRef), doutRef,
          nullptr, nullptr);
    };
    cases.push_back(bwd);
  }
  return cases;
}

struct Options {
  std::string filter, tsv;
  double minTime = 0.5;
  bool verbose = false, scalar = false, compareScalar = false, noRef = false;
  gecko::exec::CpuJitOptions jit;
};

/// --batch-tile-size=N etc.: the CpuJitOptions field of that pipeline
/// option, or null.
int64_t *jitOption(gecko::exec::CpuJitOptions &jit, const std::string &name) {
  if (name == "batch-tile-size")
    return &jit.batchTileSize;
  if (name == "token-tile-size")
    return &jit.tokenTileSize;
  if (name == "tsn-chunk-size")
    return &jit.tsnChunkSize;
  if (name == "cema-chunk-size")
    return &jit.cemaChunkSize;
  if (name == "cema-channel-block")
    return &jit.cemaChannelBlock;
  if (name == "attention-query-tile")
    return &jit.attentionQueryTile;
  if (name == "attention-key-tile")
    return &jit.attentionKeyTile;
  if (name == "linear-column-tile")
    return &jit.linearColumnTile;
  if (name == "vector-inner-tile")
    return &jit.vectorInnerTile;
  if (name == "contraction-m-tile")
    return &jit.contractionMTile;
  if (name == "contraction-n-tile")
    return &jit.contractionNTile;
  return nullptr;
}

/// Median of at least 3 calls / `minTime` seconds (after one warm-up call).
template <typename Fn> double timeMs(Fn fn, double minTime, int maxReps = 50) {
  fn();
  std::vector<double> times;
  double total = 0;
  while (times.size() < 3 ||
         (total < minTime && static_cast<int>(times.size()) < maxReps)) {
    double start = gecko::bench::seconds();
    fn();
    double elapsed = gecko::bench::seconds() - start;
    times.push_back(elapsed);
    total += elapsed;
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2] * 1e3;
}

} // namespace

int main(int argc, char **argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--filter=", 0) == 0)
      options.filter = arg.substr(9);
    else if (arg.rfind("--tsv=", 0) == 0)
      options.tsv = arg.substr(6);
    else if (arg.rfind("--min-time=", 0) == 0)
      options.minTime = std::atof(arg.c_str() + 11);
    else if (arg == "--verbose")
      options.verbose = true;
    else if (arg == "--scalar")
      options.scalar = true;
    else if (arg == "--compare-scalar")
      options.compareScalar = true;
    else if (arg == "--no-ref")
      options.noRef = true;
    else if (arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos &&
             jitOption(options.jit, arg.substr(2, arg.find('=') - 2)))
      *jitOption(options.jit, arg.substr(2, arg.find('=') - 2)) =
          std::atoll(arg.c_str() + arg.find('=') + 1);
    else {
      std::fprintf(stderr,
                   "usage: %s [--filter=SUBSTR] [--tsv=PATH] "
                   "[--min-time=SECONDS] [--verbose] [--scalar] "
                   "[--compare-scalar] [--no-ref] [--<tile option>=N]\n",
                   argv[0]);
      return 2;
    }
  }
  const char *ompThreads = std::getenv("OMP_NUM_THREADS");
  int threads = ompThreads
                    ? std::max(1, std::atoi(ompThreads))
                    : static_cast<int>(std::thread::hardware_concurrency());
  double bandwidth = gecko::bench::triadBandwidthGBs(threads);
  double peak = gecko::bench::fmaPeakGFlops(threads);
  std::printf("roofline at %d thread(s): triad %.1f GB/s, f32 FMA peak %.1f "
              "GFLOP/s\n",
              threads, bandwidth, peak);
  std::printf("%-21s %-26s %10s %10s %8s %8s %7s %6s", "op", "shape", "jit ms",
              "ref ms", "ref/jit", "GFLOP/s", "GB/s", "%roof");
  if (options.compareScalar)
    std::printf(" %10s %8s %9s", "scalar ms", "vec x", "max diff");
  std::printf("\n");

  std::FILE *tsv =
      options.tsv.empty() ? nullptr : std::fopen(options.tsv.c_str(), "w");
  mlir::DialectRegistry registry;
  registry.insert<mlir::gecko::GeckoDialect, mlir::func::FuncDialect,
                  mlir::complex::ComplexDialect, mlir::arith::ArithDialect,
                  mlir::tensor::TensorDialect>();
  for (OpCase &c : makeCases()) {
    if (!options.filter.empty() &&
        c.name.find(options.filter) == std::string::npos)
      continue;
    std::fflush(stdout);
    double refMs = options.noRef ? 0.0 : timeMs(c.reference, 0.0, 1);
    auto report = [&](const std::string &status) {
      std::printf("%-21s %-26s %10s %10.2f %s\n", c.name.c_str(),
                  c.shape.c_str(), "-", refMs, status.c_str());
      if (tsv)
        std::fprintf(tsv, "%s\t%s\tnan\t%.4f\t%s\n", c.name.c_str(),
                     c.shape.c_str(), refMs, status.c_str());
    };

    mlir::MLIRContext context(registry);
    context.disableMultithreading();
    mlir::OwningOpRef<mlir::ModuleOp> module =
        mlir::parseSourceString<mlir::ModuleOp>(c.mlir, &context);
    if (!module) {
      report("IR does not parse (bench bug)");
      if (options.verbose)
        std::printf("%s\n", c.mlir.c_str());
      continue;
    }
    // An op whose lowering has not landed stays a gecko op after
    // gecko-convert-to-linalg (or makes the pass fail).
    {
      mlir::OwningOpRef<mlir::ModuleOp> probe = module->clone();
      mlir::PassManager pm(&context);
      pm.addPass(mlir::gecko::createGeckoConvertToLinalg());
      bool converted = mlir::succeeded(pm.run(*probe));
      std::set<std::string> left;
      probe->walk([&](mlir::Operation *op) {
        if (op->getDialect() && op->getDialect()->getNamespace() == "gecko")
          left.insert(op->getName().getStringRef().str());
      });
      if (!converted || !left.empty()) {
        std::string names;
        for (const std::string &name : left)
          names += " " + name;
        report("not lowered yet" + names);
        continue;
      }
    }
    gecko::exec::CpuJitOptions jitOptions = options.jit;
    jitOptions.vectorize = !options.scalar;
    mlir::OwningOpRef<mlir::ModuleOp> scalarModule;
    if (options.compareScalar)
      scalarModule = module->clone();
    auto jit = gecko::exec::CpuJit::compile(*module, jitOptions);
    if (!jit) {
      std::string message = llvm::toString(jit.takeError());
      report("compile error");
      std::printf("  %s\n", message.substr(0, 400).c_str());
      continue;
    }
    std::vector<gecko::exec::HostTensor> hosts;
    hosts.reserve(c.inputs.size());
    std::vector<gecko::exec::JitArgument> arguments;
    bool ok = true;
    for (const KernelInput &input : c.inputs) {
      if (input.isScalar)
        continue;
      auto host = gecko::exec::toHostTensor(input);
      if (!host) {
        report("bad input: " + llvm::toString(host.takeError()));
        ok = false;
        break;
      }
      hosts.push_back(std::move(*host));
    }
    if (!ok)
      continue;
    size_t next = 0;
    for (const KernelInput &input : c.inputs)
      arguments.push_back(
          input.isScalar
              ? gecko::exec::JitArgument::ofScalar(int64_t(input.values[0]))
              : gecko::exec::JitArgument::ofTensor(hosts[next++]));
    std::string failure;
    double jitMs = timeMs(
        [&] {
          auto results = (*jit)->invoke("kernel", arguments);
          if (!results && failure.empty())
            failure = llvm::toString(results.takeError());
          else if (!results)
            llvm::consumeError(results.takeError());
        },
        options.minTime);
    if (!failure.empty()) {
      report("run error: " + failure.substr(0, 200));
      continue;
    }
    double scalarMs = 0, maxDiff = 0;
    if (options.compareScalar) {
      gecko::exec::CpuJitOptions scalarOptions = options.jit;
      scalarOptions.vectorize = false;
      auto scalarJit =
          gecko::exec::CpuJit::compile(*scalarModule, scalarOptions);
      if (!scalarJit) {
        report("scalar compile error: " +
               llvm::toString(scalarJit.takeError()).substr(0, 300));
        continue;
      }
      auto vectorResults = (*jit)->invoke("kernel", arguments);
      auto scalarResults = (*scalarJit)->invoke("kernel", arguments);
      if (!vectorResults || !scalarResults) {
        if (!vectorResults)
          llvm::consumeError(vectorResults.takeError());
        if (!scalarResults)
          llvm::consumeError(scalarResults.takeError());
        report("run error in the comparison");
        continue;
      }
      for (size_t r = 0; r < scalarResults->size(); ++r) {
        Tensor a = gecko::exec::fromHostTensor((*vectorResults)[r]);
        Tensor b = gecko::exec::fromHostTensor((*scalarResults)[r]);
        for (size_t i = 0; i < b.data.size(); ++i)
          maxDiff = std::max(maxDiff, std::abs(a.data[i] - b.data[i]) /
                                          std::max(1.0, std::abs(b.data[i])));
      }
      scalarMs = timeMs(
          [&] {
            auto results = (*scalarJit)->invoke("kernel", arguments);
            if (!results)
              llvm::consumeError(results.takeError());
          },
          options.minTime);
    }
    double seconds = jitMs / 1e3;
    double roofline =
        std::max(c.flops / (peak * 1e9), c.bytes / (bandwidth * 1e9));
    std::printf("%-21s %-26s %10.2f %10.2f %7.1fx %8.2f %7.2f %5.1f%%",
                c.name.c_str(), c.shape.c_str(), jitMs, refMs, refMs / jitMs,
                c.flops / seconds / 1e9, c.bytes / seconds / 1e9,
                100.0 * roofline / seconds);
    if (options.compareScalar)
      std::printf(" %10.2f %7.2fx %9.2e", scalarMs, scalarMs / jitMs, maxDiff);
    std::printf("\n");
    if (tsv)
      std::fprintf(tsv, "%s\t%s\t%.4f\t%.4f\tok\n", c.name.c_str(),
                   c.shape.c_str(), jitMs, refMs);
  }
  if (tsv)
    std::fclose(tsv);
  return 0;
}
