//===- gecko-device-prepare.cpp - Ahead-of-time GPU kernels + data --------===//
//
// The "prepare" half of the device check (docs/targets/device-check.md), run
// where MLIR is: every op-level golden case (gecko-conform's cuda kernels,
// makeOpKernel: forward + backward) and the larger random cases
// (RandomCases.h) become
//   cases/<name>.so                 kernel + host code (GpuAot.h)
//   cases/<name>.case.safetensors   golden file / expected values (f32)
//   cases/<name>.args.safetensors   arguments that are not a case tensor
//                                   as is (transposed, converted), if any
// plus manifest.json describing every argument and result, written into a
// temporary directory renamed over -o at the end (all or nothing).
//
//===----------------------------------------------------------------------===//

#include "GpuAot.h"
#include "RandomCases.h"

#include "../../gecko-conform/Backend.h"
#include "../../gecko-conform/Compare.h"
#include "../../gecko-conform/CpuKernels.h"
#include "../runner/Random.h"

#include "gecko/Dialect/Gecko/IR/GeckoDialect.h"
#include "gecko/Execution/KernelRunner.h"
#include "gecko/Support/Safetensors.h"
#include "gecko/Support/TensorIO.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <set>

using namespace llvm;
using namespace gecko;
using namespace gecko::devcheck;
using conform::GoldenCase;
using conform::Kernel;
using exec::ElementKind;

namespace {

cl::OptionCategory category("gecko-device-prepare options");
cl::opt<std::string> outputDir("o", cl::desc("Output directory (replaced)"),
                               cl::value_desc("dir"), cl::Required,
                               cl::cat(category));
cl::opt<std::string> chip("chip", cl::desc("GPU architecture (sm_90)"),
                          cl::init("sm_90"), cl::cat(category));
cl::opt<std::string> features("features",
                              cl::desc("PTX features (+ptx80: CUDA >= 12.0)"),
                              cl::init("+ptx80"), cl::cat(category));
cl::opt<std::string>
    binaryFormat("format",
                 cl::desc("Device binary: fatbin (cubin + PTX), bin, isa"),
                 cl::init("fatbin"), cl::cat(category));
cl::opt<std::string>
    randomSet("random",
              cl::desc("Random cases: none, all (full sizes), small (tiny "
                       "sizes, for tests)"),
              cl::init("none"), cl::cat(category));
cl::list<std::string>
    onlyCases("only",
              cl::desc("Keep only cases whose name contains this "
                       "(repeatable)"),
              cl::cat(category));
cl::opt<double> goldenTolerance(
    "golden-tol",
    cl::desc("Accepted error of golden cases, gecko-conform's metric"),
    cl::init(2e-5), cl::cat(category));
cl::opt<bool> keepPtx("keep-ptx",
                      cl::desc("Also write cases/<name>.<binary>.ptx"),
                      cl::init(false), cl::cat(category));
cl::opt<bool>
    checkCpu("check-cpu",
             cl::desc("Also run every kernel on the CPU (gecko-to-cpu JIT) "
                      "and print its error against the expected values"),
             cl::init(false), cl::cat(category));
cl::opt<bool> quiet("quiet", cl::desc("Only print errors and the summary"),
                    cl::init(false), cl::cat(category));
cl::list<std::string> inputPaths(cl::Positional, cl::ZeroOrMore,
                                 cl::desc("<golden .safetensors file or "
                                          "directory>..."),
                                 cl::cat(category));

Error error(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message.str());
}

/// One case to prepare.
struct CaseSource {
  std::string name;
  /// Where it came from: the golden file, or "random".
  std::string origin;
  GoldenCase golden;
  /// Golden: the file's dtype per key (integer/bool tensors compare
  /// exactly). Random: every tensor is F32.
  std::map<std::string, safetensors::DType> dtypes;
  /// Random only.
  const RandomCase *random = nullptr;
  std::string shape;
  double tolerance = 0;
};

Expected<CaseSource> loadGolden(StringRef path) {
  auto file = safetensors::readFile(path);
  if (!file)
    return file.takeError();
  CaseSource source;
  source.origin = path.str();
  source.name = sys::path::stem(path).str();
  GoldenCase &golden = source.golden;
  golden.path = path.str();
  golden.metadata = file->metadata;
  golden.op = golden.metadata.count("op") ? golden.metadata["op"] : "";
  golden.variant =
      golden.metadata.count("variant") ? golden.metadata["variant"] : "";
  for (const auto &[key, tensor] : file->tensors) {
    golden.tensors[key] = safetensors::toTensor(tensor);
    source.dtypes[key] = tensor.dtype;
  }
  source.tolerance = goldenTolerance;
  return source;
}

const char *dtypeName(ElementKind kind) {
  switch (kind) {
  case ElementKind::F32:
    return "f32";
  case ElementKind::F16:
    return "f16";
  case ElementKind::BF16:
    return "bf16";
  case ElementKind::I64:
    return "i64";
  case ElementKind::I1:
    return "i1";
  case ElementKind::ComplexF32:
    return "c64";
  }
  return "?";
}

/// How a kernel argument of `kind` is stored in a safetensors file.
safetensors::DType storageType(ElementKind kind) {
  switch (kind) {
  case ElementKind::F16:
    return safetensors::DType::F16;
  case ElementKind::BF16:
    return safetensors::DType::BF16;
  case ElementKind::I64:
    return safetensors::DType::I64;
  case ElementKind::I1:
    return safetensors::DType::BOOL;
  case ElementKind::F32:
  case ElementKind::ComplexF32:
    return safetensors::DType::F32;
  }
  return safetensors::DType::F32;
}

ElementKind kindOf(mlir::Type type) {
  if (auto complex = dyn_cast<mlir::ComplexType>(type))
    return ElementKind::ComplexF32;
  if (type.isF16())
    return ElementKind::F16;
  if (type.isBF16())
    return ElementKind::BF16;
  if (type.isSignlessInteger(64))
    return ElementKind::I64;
  if (type.isSignlessInteger(1))
    return ElementKind::I1;
  return ElementKind::F32;
}

/// func @kernel around the kernel body (as gecko-conform's GPU backend).
struct KernelModule {
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::vector<std::vector<int64_t>> resultShapes;
  std::vector<ElementKind> resultKinds;
};

Expected<KernelModule> buildModule(mlir::MLIRContext &context,
                                   const Kernel &kernel) {
  std::string diagnostics;
  raw_string_ostream os(diagnostics);
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    os << d << "\n";
    return mlir::success();
  });
  mlir::OpBuilder b(&context);
  mlir::Location loc = b.getUnknownLoc();
  KernelModule out;
  out.module = mlir::ModuleOp::create(loc);
  SmallVector<mlir::Type> argumentTypes;
  for (const exec::KernelInput &input : kernel.inputs)
    argumentTypes.push_back(exec::kernelInputType(b, input));
  b.setInsertionPointToEnd(out.module->getBody());
  auto func = mlir::func::FuncOp::create(b, loc, "kernel",
                                         b.getFunctionType(argumentTypes, {}));
  func->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  mlir::Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  SmallVector<mlir::Value> outputs = kernel.body(b, loc, entry->getArguments());
  mlir::func::ReturnOp::create(b, loc, outputs);
  SmallVector<mlir::Type> resultTypes;
  for (mlir::Value v : outputs) {
    auto type = dyn_cast<mlir::RankedTensorType>(v.getType());
    if (!type || !type.hasStaticShape())
      return error("kernel result of type that is not a static tensor");
    resultTypes.push_back(type);
    out.resultShapes.emplace_back(type.getShape().begin(),
                                  type.getShape().end());
    out.resultKinds.push_back(kindOf(type.getElementType()));
  }
  func.setFunctionType(b.getFunctionType(argumentTypes, resultTypes));
  if (mlir::failed(mlir::verify(*out.module)))
    return error("the kernel IR does not verify:\n" + diagnostics);
  return std::move(out);
}

json::Array shapeJson(const std::vector<int64_t> &shape) {
  json::Array a;
  for (int64_t d : shape)
    a.push_back(d);
  return a;
}

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string text;
  for (int64_t d : shape)
    text += (text.empty() ? "" : "x") + std::to_string(d);
  return text.empty() ? "scalar" : text;
}

/// The case tensor `values` equals, if any (inputs only: in.*, param.*,
/// gout.*), with the storage type `want`.
std::string findSameTensor(const CaseSource &source, const ref::Tensor &values,
                           safetensors::DType want) {
  for (const auto &[key, tensor] : source.golden.tensors) {
    StringRef k(key);
    if (!k.starts_with("in.") && !k.starts_with("param.") &&
        !k.starts_with("gout."))
      continue;
    auto dtype = source.dtypes.find(key);
    if (dtype == source.dtypes.end() || dtype->second != want)
      continue;
    if (tensor.shape == values.shape && tensor.data == values.data)
      return key;
  }
  return "";
}

std::string formatError(double e) {
  std::string text;
  raw_string_ostream os(text);
  if (std::isinf(e))
    os << "inf";
  else
    os << format("%.2e", e);
  return text;
}

/// Runs the kernel with the CPU JIT and prints its worst error.
void checkOnCpu(const CaseSource &source, const Kernel &kernel,
                const std::map<std::string, ref::Tensor> &expected) {
  auto values = exec::runKernel(kernel.inputs, kernel.body);
  if (!values) {
    outs() << "cpu-check " << source.name
           << "  FAILED: " << toString(values.takeError()) << "\n";
    return;
  }
  double worst = 0;
  std::string worstKey;
  for (size_t i = 0; i < values->size() && i < kernel.outputKeys.size(); ++i) {
    auto e = expected.find(kernel.outputKeys[i]);
    if (e == expected.end())
      continue;
    auto dtype = source.dtypes.find(kernel.outputKeys[i]);
    bool exact = dtype != source.dtypes.end() &&
                 dtype->second != safetensors::DType::F32 &&
                 dtype->second != safetensors::DType::F64;
    double err = conform::compareTensors((*values)[i], e->second, exact).error;
    if (err > source.tolerance)
      outs() << "cpu-check " << source.name
             << "  above tolerance: " << kernel.outputKeys[i] << " "
             << formatError(err) << "\n";
    if (err >= worst) {
      worst = err;
      worstKey = kernel.outputKeys[i];
    }
  }
  outs() << "cpu-check " << source.name << "  worst=" << formatError(worst)
         << " " << worstKey << "  (tolerance " << source.tolerance << ")\n";
}

/// Prepares one case; appends its manifest entry.
Error prepareCase(mlir::MLIRContext &context, CaseSource &source, StringRef dir,
                  json::Array &manifestCases, size_t &kernelCount) {
  GoldenCase &golden = source.golden;
  // Random cases: the reference library's results become the case's
  // results first, as in a golden file (kernel builders read out.* for
  // shapes, for which state gradients exist and for non-finite masks).
  std::map<std::string, ref::Tensor> expected;
  if (source.random) {
    conform::CaseResults results;
    if (Error err = conform::createReferenceBackend()->run(golden, results))
      return err;
    for (const auto &[key, value] : results.tensors)
      golden.tensors.emplace(key, value);
    expected = std::move(results.tensors);
  }
  Expected<Kernel> kernel = conform::makeOpKernel(golden, "cuda");
  if (!kernel)
    return kernel.takeError();
  if (!source.random) {
    for (const std::string &key : kernel->outputKeys)
      if (const ref::Tensor *t = golden.find(key))
        expected[key] = *t;
  }

  Expected<KernelModule> built = buildModule(context, *kernel);
  if (!built)
    return built.takeError();
  if (built->resultKinds.size() != kernel->outputKeys.size())
    return error("the kernel returns " + Twine(built->resultKinds.size()) +
                 " values for " + Twine(kernel->outputKeys.size()) +
                 " golden keys");

  std::string base = "cases/" + source.name;
  SmallString<256> casePath(dir), argsPath(dir), libraryPath(dir);
  sys::path::append(casePath, base + ".case.safetensors");
  sys::path::append(argsPath, base + ".args.safetensors");
  sys::path::append(libraryPath, base + ".so");

  // Arguments.
  json::Array args;
  safetensors::File argsFile;
  for (size_t i = 0; i < kernel->inputs.size(); ++i) {
    const exec::KernelInput &input = kernel->inputs[i];
    if (input.isScalar) {
      args.push_back(
          json::Object{{"kind", "scalar"},
                       {"value", static_cast<int64_t>(input.values[0])}});
      continue;
    }
    safetensors::DType storage = storageType(input.kind);
    bool natural =
        input.kind != ElementKind::F16 && input.kind != ElementKind::BF16;
    std::string key =
        natural ? findSameTensor(source, input.values, storage) : std::string();
    std::string from = source.random ? "random" : "case";
    if (key.empty()) {
      key = "arg" + std::to_string(i);
      from = "args";
      auto encoded = safetensors::fromTensor(input.values, storage);
      if (!encoded)
        return encoded.takeError();
      argsFile.tensors[key] = std::move(*encoded);
    }
    std::vector<int64_t> shape = input.values.shape;
    if (input.kind == ElementKind::ComplexF32)
      shape.pop_back();
    args.push_back(json::Object{{"kind", "tensor"},
                                {"from", from},
                                {"key", key},
                                {"dtype", dtypeName(input.kind)},
                                {"shape", shapeJson(shape)}});
  }

  // Results.
  json::Array results;
  safetensors::File expectedFile;
  expectedFile.metadata = golden.metadata;
  for (size_t i = 0; i < kernel->outputKeys.size(); ++i) {
    const std::string &key = kernel->outputKeys[i];
    bool compared = expected.count(key) != 0;
    results.push_back(json::Object{{"key", key},
                                   {"dtype", dtypeName(built->resultKinds[i])},
                                   {"shape", shapeJson(built->resultShapes[i])},
                                   {"compare", compared}});
    if (!source.random || !compared)
      continue;
    ElementKind kind = built->resultKinds[i];
    safetensors::DType dtype =
        kind == ElementKind::I64  ? safetensors::DType::I64
        : kind == ElementKind::I1 ? safetensors::DType::BOOL
                                  : safetensors::DType::F32;
    auto encoded = safetensors::fromTensor(expected[key], dtype);
    if (!encoded)
      return encoded.takeError();
    expectedFile.tensors[key] = std::move(*encoded);
    source.dtypes[key] = dtype;
  }

  if (checkCpu)
    checkOnCpu(source, *kernel, expected);

  // The kernel library.
  GpuAotOptions options;
  options.chip = chip;
  options.features = features;
  options.format = binaryFormat;
  options.keepPtx = keepPtx;
  if (source.random)
    options.tokenTileSize = source.random->tokenTile;
  auto compiled = compileGpuLibrary(*built->module, libraryPath, options);
  if (!compiled)
    return compiled.takeError();
  kernelCount += compiled->kernels.size();
  for (const auto &[binary, text] : compiled->ptx) {
    SmallString<256> ptxPath(dir);
    sys::path::append(ptxPath, base + "." + binary + ".ptx");
    std::error_code ec;
    raw_fd_ostream os(ptxPath, ec);
    if (ec)
      return error("cannot write " + ptxPath + ": " + ec.message());
    os << text;
  }

  // Data files.
  if (source.random) {
    if (Error err = safetensors::writeFile(casePath, expectedFile))
      return err;
  } else if (std::error_code ec = sys::fs::copy_file(source.origin, casePath)) {
    return error("cannot copy " + source.origin + ": " + ec.message());
  }
  bool hasArgs = !argsFile.tensors.empty();
  if (hasArgs)
    if (Error err = safetensors::writeFile(argsPath, argsFile))
      return err;

  json::Array kernels, undefined;
  for (const std::string &k : compiled->kernels)
    kernels.push_back(k);
  for (const std::string &s : compiled->undefinedSymbols)
    undefined.push_back(s);
  json::Object metadata;
  for (const auto &[k, v] : golden.metadata)
    metadata[k] = v;
  json::Object entry{
      {"name", source.name},
      {"op", golden.op},
      {"variant", golden.variant},
      {"origin", source.random ? "random" : "golden"},
      {"shape", source.shape},
      {"tolerance", source.tolerance},
      {"token_tile", source.random ? source.random->tokenTile : int64_t(0)},
      {"library", base + ".so"},
      {"symbol", "_gecko_packed_kernel"},
      {"case_file", base + ".case.safetensors"},
      {"args_file", hasArgs ? base + ".args.safetensors" : ""},
      {"metadata", std::move(metadata)},
      {"args", std::move(args)},
      {"results", std::move(results)},
      {"kernels", std::move(kernels)},
      {"undefined_symbols", std::move(undefined)}};
  if (source.random) {
    json::Array inputs;
    for (const RandomTensor &t : source.random->tensors)
      inputs.push_back(json::Object{{"key", t.key},
                                    {"dtype", "f32"},
                                    {"shape", shapeJson(t.shape)},
                                    {"seed", std::to_string(t.seed)},
                                    {"lo", t.lo},
                                    {"hi", t.hi}});
    entry["random_inputs"] = std::move(inputs);
  }
  manifestCases.push_back(std::move(entry));
  return Error::success();
}

/// Golden files named by the positional paths (directories: their
/// *.safetensors, sorted).
Expected<std::vector<std::string>> goldenFiles() {
  std::vector<std::string> files;
  for (const std::string &path : inputPaths) {
    if (!sys::fs::is_directory(path)) {
      if (!sys::fs::exists(path))
        return error("no such file or directory: " + path);
      files.push_back(path);
      continue;
    }
    std::vector<std::string> inDir;
    std::error_code ec;
    for (sys::fs::directory_iterator it(path, ec), end; it != end && !ec;
         it.increment(ec))
      if (StringRef(it->path()).ends_with(".safetensors"))
        inDir.push_back(it->path());
    if (ec)
      return error("cannot list " + path + ": " + ec.message());
    if (inDir.empty())
      return error(path + " holds no *.safetensors file");
    llvm::sort(inDir);
    files.insert(files.end(), inDir.begin(), inDir.end());
  }
  return files;
}

bool selected(StringRef name) {
  if (onlyCases.empty())
    return true;
  for (const std::string &part : onlyCases)
    if (name.contains(part))
      return true;
  return false;
}

Error run() {
  if (randomSet != "none" && randomSet != "all" && randomSet != "small")
    return error("--random must be none, all or small, got '" + randomSet +
                 "'");
  if (binaryFormat != "fatbin" && binaryFormat != "bin" &&
      binaryFormat != "isa")
    return error("--format must be fatbin, bin or isa, got '" + binaryFormat +
                 "'");
  if (!(goldenTolerance >= 0) || std::isinf(goldenTolerance))
    return error("--golden-tol must be finite and >= 0");
  auto files = goldenFiles();
  if (!files)
    return files.takeError();
  if (files->empty() && randomSet == "none")
    return error("nothing to prepare: give golden files or --random");

  std::vector<CaseSource> sources;
  std::set<std::string> names;
  for (const std::string &path : *files) {
    auto source = loadGolden(path);
    if (!source)
      return source.takeError();
    if (!selected(source->name))
      continue;
    if (source->golden.op == "block" || source->golden.op == "model" ||
        source->golden.op.empty()) {
      outs() << "skip  " << source->name << "  (op '" << source->golden.op
             << "' has no op-level GPU kernel)\n";
      continue;
    }
    if (!names.insert(source->name).second)
      return error("two golden files are both named " + source->name);
    // The table's shape: the main input (else the first in.* tensor).
    for (const char *key : {"in.x", "in.q", "in.z"})
      if (const ref::Tensor *t = source->golden.find(key)) {
        source->shape = std::string(key + 3) + " " + shapeText(t->shape);
        break;
      }
    for (const auto &[key, t] : source->golden.tensors)
      if (source->shape.empty() && StringRef(key).starts_with("in."))
        source->shape = key.substr(3) + " " + shapeText(t.shape);
    sources.push_back(std::move(*source));
  }
  static std::vector<RandomCase> randomSpecs;
  if (randomSet != "none")
    randomSpecs = randomCases(randomSet == "small");
  for (const RandomCase &spec : randomSpecs) {
    if (!selected(spec.name))
      continue;
    CaseSource source;
    source.name = spec.name;
    source.origin = "random";
    source.golden = materialize(spec);
    for (const auto &entry : source.golden.tensors)
      source.dtypes[entry.first] = safetensors::DType::F32;
    source.random = &spec;
    source.shape = spec.shape;
    source.tolerance = spec.tolerance;
    if (!names.insert(source.name).second)
      return error("two cases are both named " + source.name);
    sources.push_back(std::move(source));
  }
  if (sources.empty())
    return error("no case left to prepare");

  // Everything goes into <out>.tmp-<pid>, renamed over <out> at the end.
  SmallString<256> finalDir(outputDir.getValue());
  sys::path::remove_dots(finalDir, true);
  std::string pid = std::to_string(sys::Process::getProcessId());
  std::string tmpDir = (finalDir + ".tmp-" + pid).str();
  (void)sys::fs::remove_directories(tmpDir);
  SmallString<256> casesDir(tmpDir);
  sys::path::append(casesDir, "cases");
  if (std::error_code ec = sys::fs::create_directories(casesDir))
    return error("cannot create " + casesDir + ": " + ec.message());
  auto cleanup =
      make_scope_exit([&] { (void)sys::fs::remove_directories(tmpDir); });

  mlir::DialectRegistry registry;
  registry.insert<mlir::gecko::GeckoDialect>();
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::registerAllToLLVMIRTranslations(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();

  json::Array manifestCases;
  size_t kernelCount = 0;
  for (CaseSource &source : sources) {
    auto start = std::chrono::steady_clock::now();
    if (Error err =
            prepareCase(context, source, tmpDir, manifestCases, kernelCount))
      return error(source.name + ": " + toString(std::move(err)));
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    if (!quiet)
      outs() << "ok    " << source.name << "  (" << format("%.1f", seconds)
             << " s)\n";
    outs().flush();
  }

  json::Object manifest{{"format", "gecko-device-check"},
                        {"version", 1},
                        {"chip", chip.getValue()},
                        {"features", features.getValue()},
                        {"binary_format", binaryFormat.getValue()},
                        {"cases", std::move(manifestCases)}};
  SmallString<256> manifestPath(tmpDir);
  sys::path::append(manifestPath, "manifest.json");
  if (Error err = writeToOutput(manifestPath, [&](raw_ostream &os) {
        os << formatv("{0:2}", json::Value(std::move(manifest))) << "\n";
        return Error::success();
      }))
    return err;

  // Replace the output directory.
  std::string oldDir = (finalDir + ".old-" + pid).str();
  bool hadOld = sys::fs::exists(finalDir);
  if (hadOld)
    if (std::error_code ec = sys::fs::rename(finalDir, oldDir))
      return error("cannot move the old " + finalDir +
                   " aside: " + ec.message());
  if (std::error_code ec = sys::fs::rename(tmpDir, finalDir)) {
    if (hadOld)
      (void)sys::fs::rename(oldDir, finalDir);
    return error("cannot rename " + tmpDir + " to " + finalDir + ": " +
                 ec.message());
  }
  cleanup.release();
  if (hadOld)
    (void)sys::fs::remove_directories(oldDir);
  outs() << "prepared " << sources.size() << " cases (" << kernelCount
         << " kernels) in " << finalDir << "\n";
  return Error::success();
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "gecko-device-prepare: GPU kernels compiled ahead of time for the "
      "device check (docs/targets/device-check.md)\n");
  if (Error err = run()) {
    outs().flush();
    errs() << "gecko-device-prepare: " << toString(std::move(err)) << "\n";
    return 1;
  }
  return 0;
}
