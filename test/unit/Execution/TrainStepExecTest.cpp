//===- TrainStepExecTest.cpp - The compiled train step and optimizer ------===//
//
// gecko::model::TrainStep (docs/training.md) compiled on the CPU:
// - train_step (forward + mean cross-entropy + gecko-autodiff backward in
//   one kernel) against the reference: loss = mean CE of ref::modelForward's
//   logits, gradients = ref::modelBackward fed with the exact CE gradient
//   (softmax - onehot) / (B*L), on the tiny test config with L = 3 chunks,
//   multi-document (bos inside the rows, 2 layers) and single-document (1
//   layer); the kernels are compiled scalar at -O1 (compile time dominates);
// - the golden model__train_segments file through the same builder with the
//   logits seed replaced by gout.logits (the golden loss is Σ gout ⊙ logits,
//   not a cross-entropy), every grad.* at the golden bound 5e-5;
// - optimizer_step and accumulate_grads (memref functions, compiled ahead of
//   time into a shared library and called through `_gecko_packed_*`) against
//   a plain C++ AdamW with global-norm clipping, for two steps (clipping
//   active, then inactive with a gradient scale), checking that the caller's
//   buffers are updated in place.
//
// Tolerances: gradients |a - b| <= 5e-5 * max|b| per tensor (f32 sums over
// every token; measured worst 1.3e-6 (2 layers) and 4.8e-7 (1 layer) of the
// largest entry), loss 1e-5 relative; optimizer 1e-5 relative (f32 ops in
// the same order as the reference except the reassociated norm sum).
//
//===----------------------------------------------------------------------===//

#include "GradCheck.h"
#include "TinyModel.h"

#include "gecko/Execution/AotCompiler.h"
#include "gecko/Execution/KernelRunner.h"
#include "gecko/Model/TrainStep.h"
#include "gecko/Reference/Model.h"
#include "gecko/Support/TensorIO.h"

#include "gecko/Dialect/Gecko/IR/GeckoDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Complex/IR/Complex.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <dlfcn.h>
#include <random>

namespace gecko::exec {
namespace {

using ref::Tensor;

/// Rounds every value to the nearest f32 (what the kernel sees).
Tensor roundToF32(Tensor t) {
  for (double &v : t.data)
    v = static_cast<double>(static_cast<float>(v));
  return t;
}

/// Mean cross-entropy of logits (B,L,V) against targets (B,L) and its
/// gradient, in double.
struct CrossEntropy {
  double loss = 0;
  Tensor dlogits;
};
CrossEntropy crossEntropy(const Tensor &logits, const Tensor &targets) {
  int64_t b = logits.dim(0), l = logits.dim(1), v = logits.dim(2);
  CrossEntropy ce;
  ce.dlogits = Tensor(logits.shape);
  double n = static_cast<double>(b * l);
  for (int64_t i = 0; i < b; ++i)
    for (int64_t t = 0; t < l; ++t) {
      double mx = -INFINITY, sum = 0;
      for (int64_t k = 0; k < v; ++k)
        mx = std::max(mx, logits.at(i, t, k));
      for (int64_t k = 0; k < v; ++k)
        sum += std::exp(logits.at(i, t, k) - mx);
      int64_t y = static_cast<int64_t>(targets.at(i, t));
      ce.loss += (mx + std::log(sum) - logits.at(i, t, y)) / n;
      for (int64_t k = 0; k < v; ++k)
        ce.dlogits.at(i, t, k) =
            (std::exp(logits.at(i, t, k) - mx) / sum - (k == y ? 1.0 : 0.0)) /
            n;
    }
  return ce;
}

/// Compile-time-lean JIT options (scalar loops, -O1): the train step of the
/// whole model is one large kernel.
CpuJitOptions testJitOptions() {
  CpuJitOptions o;
  o.vectorize = std::getenv("GECKO_TRAIN_TEST_VECTORIZE") != nullptr;
  o.optLevel = 1;
  return o;
}

/// Runs the train step kernel: (loss, grad...) in parameter order.
llvm::Expected<std::vector<Tensor>>
runTrainStep(const ref::GeckoConfig &cfg, const model::TrainSpec &spec,
             const Tensor &inputs, const Tensor &targets,
             const ref::ParamMap &params, const Tensor *dlogits = nullptr) {
  std::vector<KernelInput> in = {
      KernelInput::tensor(inputs, ElementKind::I64),
      KernelInput::tensor(targets, ElementKind::I64)};
  for (const auto &[name, shape] : ref::modelParamShapes(cfg))
    in.push_back(KernelInput::tensor(params.at(name)));
  if (dlogits)
    in.push_back(KernelInput::tensor(*dlogits));
  std::string bodyError;
  auto out = runKernel(
      in, [&](mlir::OpBuilder &b, mlir::Location loc, mlir::ValueRange args) {
        auto r = model::buildTrainStepBody(b, loc, cfg, spec, args, dlogits);
        if (!r) {
          bodyError = llvm::toString(r.takeError());
          return llvm::SmallVector<mlir::Value>{};
        }
        return *r;
      });
  if (!bodyError.empty()) {
    if (!out)
      llvm::consumeError(out.takeError());
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   bodyError.c_str());
  }
  return out;
}

/// max|a - b| / max|b| (0/0 = 0); +inf on a shape mismatch.
double errorOfLargest(const Tensor &a, const Tensor &b) {
  if (a.shape != b.shape)
    return INFINITY;
  double diff = 0, scale = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    diff = std::max(diff, std::fabs(a[i] - b[i]));
    scale = std::max(scale, std::fabs(b[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

void checkAgainstReference(bool multi, int64_t batch, int64_t layers,
                           uint64_t seed) {
  ref::GeckoConfig cfg = ref::testutil::tinyConfig();
  cfg.num_layers = layers;
  model::TrainSpec spec{batch, 3 * cfg.chunk_size, multi};
  std::mt19937_64 rng(seed);
  ref::ParamMap params =
      ref::randomParams(ref::modelParamShapes(cfg), seed + 1);
  for (auto &[name, t] : params)
    t = roundToF32(t);
  std::vector<std::pair<int64_t, int64_t>> bos;
  if (multi)
    bos = {{0, 0}, {0, 5}, {batch - 1, 9}};
  Tensor inputs =
      ref::testutil::randomTokens(cfg, batch, spec.length, bos, rng);
  Tensor targets =
      ref::testutil::randomTokens(cfg, batch, spec.length, {}, rng);

  ref::Checked<Tensor> logits =
      ref::modelForward(params, cfg, inputs, multi, nullptr);
  ASSERT_TRUE(logits) << logits.error;
  CrossEntropy ce = crossEntropy(*logits, targets);
  ref::Checked<ref::ParamMap> grads =
      ref::modelBackward(params, cfg, inputs, multi, ce.dlogits);
  ASSERT_TRUE(grads) << grads.error;

  auto out = runTrainStep(cfg, spec, inputs, targets, params);
  ASSERT_TRUE(static_cast<bool>(out)) << llvm::toString(out.takeError());
  ref::ParamShapes shapes = ref::modelParamShapes(cfg);
  ASSERT_EQ(out->size(), shapes.size() + 1);
  EXPECT_NEAR((*out)[0][0], ce.loss, 1e-5 * std::max(1.0, ce.loss));
  double worst = 0;
  std::string worstName;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const std::string &name = shapes[i].first;
    const Tensor &expected = grads->at(name);
    ASSERT_FALSE(ref::testutil::isAllZero(expected)) << name;
    double err = errorOfLargest((*out)[1 + i], expected);
    EXPECT_LE(err, 5e-5) << "grad." << name;
    if (err > worst)
      worst = err, worstName = name;
  }
  std::printf("[train_step vs reference, %s, %lld layers, B=%lld L=%lld] "
              "worst grad error %.3g (of the largest entry) at %s, loss "
              "%.6f\n",
              multi ? "multi-document" : "single-document",
              static_cast<long long>(layers), static_cast<long long>(batch),
              static_cast<long long>(spec.length), worst, worstName.c_str(),
              ce.loss);
}

TEST(TrainStepExec, MatchesReferenceMultiDocument) {
  checkAgainstReference(/*multi=*/true, /*batch=*/2, /*layers=*/2, 11);
}

TEST(TrainStepExec, MatchesReferenceSingleDocument) {
  checkAgainstReference(/*multi=*/false, /*batch=*/1, /*layers=*/1, 23);
}

TEST(TrainStepExec, GoldenModelTrainSegments) {
  std::string path = std::string(GECKO_TEST_DATA_DIR) +
                     "/golden/model__train_segments."
                     "safetensors";
  auto file = safetensors::readTensorFile(path);
  ASSERT_TRUE(static_cast<bool>(file)) << llvm::toString(file.takeError());
  auto cfg = model::parseConfig(file->metadata.at("config"));
  ASSERT_TRUE(static_cast<bool>(cfg)) << llvm::toString(cfg.takeError());
  std::string multiText = file->metadata.at("multi_segments");
  bool multi = multiText == "true" || multiText == "True" || multiText == "1";
  const Tensor &tokens = file->tensors.at("in.tokens");
  ref::ParamMap params;
  for (const auto &[name, shape] : ref::modelParamShapes(*cfg))
    params[name] = file->tensors.at("param." + name);
  // Any in-range targets: the golden gradients do not depend on them; the
  // loss is then checked against the golden logits.
  Tensor targets = tokens;
  for (int64_t i = 0; i < targets.numel(); ++i)
    targets[i] = static_cast<double>((static_cast<int64_t>(tokens[i]) * 7 + 3) %
                                     cfg->vocab_size);
  model::TrainSpec spec{tokens.dim(0), tokens.dim(1), multi};
  const Tensor &gout = file->tensors.at("gout.logits");
  auto out = runTrainStep(*cfg, spec, tokens, targets, params, &gout);
  ASSERT_TRUE(static_cast<bool>(out)) << llvm::toString(out.takeError());
  ref::ParamShapes shapes = ref::modelParamShapes(*cfg);
  ASSERT_EQ(out->size(), shapes.size() + 1);
  CrossEntropy ce = crossEntropy(file->tensors.at("out.logits"), targets);
  EXPECT_NEAR((*out)[0][0], ce.loss, 1e-5 * std::max(1.0, ce.loss));
  double worst = 0;
  std::string worstName;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const std::string &name = shapes[i].first;
    auto it = file->tensors.find("grad." + name);
    ASSERT_NE(it, file->tensors.end()) << "grad." << name;
    double err = ref::testutil::maxRelativeError((*out)[1 + i], it->second);
    EXPECT_LE(err, 5e-5) << "grad." << name;
    if (err > worst)
      worst = err, worstName = name;
  }
  std::printf("[train_step, golden model__train_segments] worst |a-b|/"
              "max(1,|b|) %.3g at grad.%s\n",
              worst, worstName.c_str());
}

TEST(TrainStepExec, Errors) {
  ref::GeckoConfig cfg = ref::testutil::tinyConfig();
  llvm::Error err = model::checkTrain(cfg, {1, cfg.chunk_size + 1, false});
  ASSERT_TRUE(static_cast<bool>(err));
  EXPECT_EQ(llvm::toString(std::move(err)),
            "train length 5 is not a positive multiple of chunk_size 4");
  err = model::checkTrain(cfg, {0, cfg.chunk_size, false});
  ASSERT_TRUE(static_cast<bool>(err));
  EXPECT_EQ(llvm::toString(std::move(err)),
            "train batch must be positive, got 0");
  EXPECT_FALSE(static_cast<bool>(model::checkTrain(cfg, {2, 8, true})));
}

TEST(TrainStepExec, BackwardBuilderHook) {
  ref::GeckoConfig cfg = ref::testutil::tinyConfig();
  mlir::MLIRContext context;
  context.loadDialect<mlir::gecko::GeckoDialect, mlir::func::FuncDialect,
                      mlir::arith::ArithDialect, mlir::tensor::TensorDialect,
                      mlir::linalg::LinalgDialect,
                      mlir::complex::ComplexDialect>();
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::ModuleOp::create(mlir::UnknownLoc::get(&context));
  model::CallSpec spec;
  spec.batch = 1, spec.length = cfg.chunk_size;
  auto forward = model::buildModelFunction(*module, "fwd", cfg, spec);
  ASSERT_TRUE(static_cast<bool>(forward))
      << llvm::toString(forward.takeError());
  model::registerAutodiffBackwardBuilder();
  auto backward = model::buildBackward(*forward);
  ASSERT_TRUE(static_cast<bool>(backward))
      << llvm::toString(backward.takeError());
  EXPECT_EQ(backward->getSymName(), "fwd_backward");
  size_t numParams = ref::modelParamShapes(cfg).size();
  // (tokens, params..., dlogits) -> grads of every parameter.
  EXPECT_EQ(backward->getNumArguments(), 1 + numParams + 1);
  EXPECT_EQ(backward->getNumResults(), numParams);
}

TEST(TrainStepExec, WeightDecaySelection) {
  EXPECT_TRUE(model::paramGetsWeightDecay("embed.weight", {64, 32}));
  EXPECT_TRUE(model::paramGetsWeightDecay("layers.0.mega.wz.weight", {16, 32}));
  EXPECT_TRUE(
      model::paramGetsWeightDecay("layers.1.nffn.fc2.weight", {32, 64}));
  EXPECT_TRUE(model::paramGetsWeightDecay("output.output.weight", {64, 32}));
  EXPECT_FALSE(
      model::paramGetsWeightDecay("layers.0.mega.cema.alpha", {32, 4}));
  EXPECT_FALSE(model::paramGetsWeightDecay("layers.0.mega.gamma", {4, 16}));
  EXPECT_FALSE(
      model::paramGetsWeightDecay("layers.0.mega.timenorm.weight", {32}));
  EXPECT_FALSE(model::paramGetsWeightDecay("layers.0.mega.wz.bias", {16}));
}

/// A host buffer and its memref descriptor (rank R: 3 + 2R words).
struct Buffer {
  std::vector<float> data;
  std::vector<int64_t> descriptor;
  void *descriptorPtr = nullptr;

  Buffer(std::vector<float> values, const std::vector<int64_t> &shape)
      : data(std::move(values)) {
    descriptor.resize(3 + 2 * shape.size());
    descriptor[0] = reinterpret_cast<int64_t>(data.data());
    descriptor[1] = reinterpret_cast<int64_t>(data.data());
    descriptor[2] = 0;
    int64_t stride = 1;
    for (size_t i = shape.size(); i-- > 0;) {
      descriptor[3 + i] = shape[i];
      descriptor[3 + shape.size() + i] = stride;
      stride *= shape[i];
    }
    descriptorPtr = descriptor.data();
  }
};

std::vector<float> randomFloats(int64_t n, std::mt19937_64 &rng, double lo,
                                double hi) {
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<float> v(n);
  for (float &x : v)
    x = static_cast<float>(dist(rng));
  return v;
}

int64_t numel(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

/// Plain AdamW with PyTorch's clip_grad_norm_ (f32, the compiled order).
void adamwReference(const std::vector<float> &hyper,
                    const ref::ParamShapes &shapes,
                    std::vector<std::vector<float>> &p,
                    const std::vector<std::vector<float>> &g,
                    std::vector<std::vector<float>> &m,
                    std::vector<std::vector<float>> &v, float &normOut,
                    float &factorOut) {
  float lr = hyper[model::kHyperLr], b1 = hyper[model::kHyperBeta1],
        b2 = hyper[model::kHyperBeta2], eps = hyper[model::kHyperEps],
        wd = hyper[model::kHyperWeightDecay],
        clip = hyper[model::kHyperClipNorm], step = hyper[model::kHyperStep],
        scale = hyper[model::kHyperGradScale];
  double sumSq = 0;
  for (const auto &gi : g)
    for (float x : gi)
      sumSq += static_cast<double>(x) * x;
  float norm = static_cast<float>(std::sqrt(sumSq)) * scale;
  float factor = clip > 0 ? std::min(1.0f, clip / (norm + 1e-6f)) : 1.0f;
  float gmul = scale * factor;
  float bc1 = 1.0f - std::pow(b1, step), bc2 = 1.0f - std::pow(b2, step);
  float stepSize = lr / bc1, invSqrtBc2 = 1.0f / std::sqrt(bc2);
  for (size_t i = 0; i < p.size(); ++i) {
    bool decay = model::paramGetsWeightDecay(shapes[i].first, shapes[i].second);
    for (size_t k = 0; k < p[i].size(); ++k) {
      float gs = g[i][k] * gmul;
      m[i][k] = b1 * m[i][k] + (1.0f - b1) * gs;
      v[i][k] = b2 * v[i][k] + (1.0f - b2) * (gs * gs);
      float denom = std::sqrt(v[i][k]) * invSqrtBc2 + eps;
      float pk = decay ? p[i][k] * (1.0f - lr * wd) : p[i][k];
      p[i][k] = pk - stepSize * (m[i][k] / denom);
    }
  }
  normOut = norm;
  factorOut = factor;
}

double maxRelDiff(const std::vector<float> &a, const std::vector<float> &b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::fabs(double(a[i]) - b[i]) /
                                std::max(1e-3, std::fabs(double(b[i]))));
  return worst;
}

TEST(TrainStepExec, OptimizerStepAndAccumulateMatchAdamW) {
  ref::GeckoConfig cfg = ref::testutil::tinyConfig();
  ref::ParamShapes shapes = ref::modelParamShapes(cfg);
  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::ModuleOp::create(mlir::UnknownLoc::get(&context));
  model::buildOptimizerStepFunction(*module, "optimizer_step", cfg);
  model::buildAccumulateGradsFunction(*module, "accumulate_grads", cfg);
  llvm::SmallString<128> dir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("gecko-opt-test", dir));
  std::string lib = (dir + "/opt.so").str();
  AotOptions options;
  options.emitPackedInterface = true;
  llvm::Error err =
      compileAheadOfTime(*module, lib, AotEmit::SharedLibrary, options);
  ASSERT_FALSE(static_cast<bool>(err)) << llvm::toString(std::move(err));
  void *handle = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(handle, nullptr) << dlerror();
  using Packed = void (*)(void **);
  auto step =
      reinterpret_cast<Packed>(dlsym(handle, "_gecko_packed_optimizer_step"));
  auto accumulate =
      reinterpret_cast<Packed>(dlsym(handle, "_gecko_packed_accumulate_grads"));
  ASSERT_NE(step, nullptr);
  ASSERT_NE(accumulate, nullptr);

  std::mt19937_64 rng(5);
  std::vector<std::vector<float>> p, g, g2, m, v;
  for (const auto &[name, shape] : shapes) {
    int64_t n = numel(shape);
    p.push_back(randomFloats(n, rng, -1, 1));
    g.push_back(randomFloats(n, rng, -0.5, 0.5));
    g2.push_back(randomFloats(n, rng, -0.5, 0.5));
    m.push_back(std::vector<float>(n, 0.0f));
    v.push_back(std::vector<float>(n, 0.0f));
  }

  // accumulate_grads: acc (= g) += g2, in place.
  std::vector<Buffer> acc, add;
  for (size_t i = 0; i < shapes.size(); ++i) {
    acc.emplace_back(g[i], shapes[i].second);
    add.emplace_back(g2[i], shapes[i].second);
  }
  std::vector<void *> accArgs = {nullptr};
  for (Buffer &b : acc)
    accArgs.push_back(&b.descriptorPtr);
  for (Buffer &b : add)
    accArgs.push_back(&b.descriptorPtr);
  accumulate(accArgs.data());
  for (size_t i = 0; i < shapes.size(); ++i)
    for (size_t k = 0; k < g[i].size(); ++k)
      ASSERT_EQ(acc[i].data[k], g[i][k] + g2[i][k]) << shapes[i].first;

  // Two optimizer steps on the accumulated gradients: clipping active
  // (scale 0.5 = two micro-batches), then inactive (large clip).
  std::vector<Buffer> pb, gb, mb, vb;
  for (size_t i = 0; i < shapes.size(); ++i) {
    pb.emplace_back(p[i], shapes[i].second);
    gb.emplace_back(acc[i].data, shapes[i].second);
    mb.emplace_back(m[i], shapes[i].second);
    vb.emplace_back(v[i], shapes[i].second);
  }
  std::vector<std::vector<float>> gAcc;
  for (Buffer &b : acc)
    gAcc.push_back(b.data);
  for (int s = 1; s <= 2; ++s) {
    std::vector<float> hyper(model::kHyperCount);
    hyper[model::kHyperLr] = s == 1 ? 3e-3f : 1e-3f;
    hyper[model::kHyperBeta1] = 0.9f;
    hyper[model::kHyperBeta2] = 0.95f;
    hyper[model::kHyperEps] = 1e-8f;
    hyper[model::kHyperWeightDecay] = 0.1f;
    hyper[model::kHyperClipNorm] = s == 1 ? 1.0f : 1e6f;
    hyper[model::kHyperStep] = static_cast<float>(s);
    hyper[model::kHyperGradScale] = 0.5f;
    Buffer hb(hyper, {model::kHyperCount});
    std::vector<int64_t> stats(5, 0);
    std::vector<void *> args = {stats.data(), &hb.descriptorPtr};
    for (auto *list : {&pb, &gb, &mb, &vb})
      for (Buffer &b : *list)
        args.push_back(&b.descriptorPtr);
    step(args.data());
    float norm = 0, factor = 0;
    adamwReference(hyper, shapes, p, gAcc, m, v, norm, factor);
    auto *statsData = reinterpret_cast<float *>(stats[1]);
    ASSERT_EQ(stats[3], 2);
    EXPECT_NEAR(statsData[0], norm, 1e-5 * norm) << "step " << s;
    EXPECT_NEAR(statsData[1], factor, 1e-5) << "step " << s;
    if (s == 1)
      EXPECT_LT(factor, 0.5f) << "clipping should be active";
    else
      EXPECT_EQ(factor, 1.0f);
    free(reinterpret_cast<void *>(stats[0]));
    double worst = 0;
    for (size_t i = 0; i < shapes.size(); ++i) {
      EXPECT_LE(maxRelDiff(pb[i].data, p[i]), 1e-5) << shapes[i].first;
      EXPECT_LE(maxRelDiff(mb[i].data, m[i]), 1e-5) << shapes[i].first;
      EXPECT_LE(maxRelDiff(vb[i].data, v[i]), 1e-5) << shapes[i].first;
      worst = std::max({worst, maxRelDiff(pb[i].data, p[i]),
                        maxRelDiff(mb[i].data, m[i]),
                        maxRelDiff(vb[i].data, v[i])});
      EXPECT_EQ(gb[i].data, gAcc[i]) << "gradients must not be written";
    }
    std::printf("[optimizer_step %d] norm %.5f factor %.5f, worst relative "
                "difference %.3g\n",
                s, norm, factor, worst);
  }
  dlclose(handle);
  llvm::sys::fs::remove_directories(dir);
}

} // namespace
} // namespace gecko::exec
