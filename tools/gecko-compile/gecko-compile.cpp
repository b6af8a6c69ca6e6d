//===- gecko-compile.cpp - Compile a whole Gecko model to an artifact -----===//
//
// gecko-compile --config=c.json -o out.gecko [--target=cpu] [--batch=N]
//   [--multi-document] [--quiet] [--dump-ir-after=<stage>] [--dump-dir=DIR]
//   [--train [--train-length=L] [--micro-batch=B]]
//   [--fuse-norm-ema] [--fuse-attention] (not with --train)
//
// Builds the gecko IR of the streaming calls of the model (model builder,
// include/gecko/Model/ModelBuilder.h): "first_chunk" (the first C tokens,
// start 0), "chunk" (C tokens after a chunk boundary, kv_count a runtime
// scalar) and, for chunk_size >= 2, "decode" (one token at any position from
// the boundary state and a partial-chunk state), with every argument
// read-only for bufferization (the library never writes its arguments),
// compiles them into one host shared library with the packed interface
// (gecko/Execution/AotCompiler.h) and writes the artifact directory:
// model.so + manifest.json (docs/model/artifact.md). The directory is built
// next to the output and renamed over it; an existing output is replaced
// only when it is a gecko artifact.
//
//===----------------------------------------------------------------------===//

#include "TrainEntries.h"

#include "gecko/Dialect/Gecko/IR/GeckoDialect.h"
#include "gecko/Execution/AotCompiler.h"
#include "gecko/Model/ModelBuilder.h"
#include "gecko/Reference/Model.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Complex/IR/Complex.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace cl = llvm::cl;
namespace json = llvm::json;
using llvm::StringRef;
using llvm::Twine;

namespace {

cl::OptionCategory category("gecko-compile options");
cl::opt<std::string> configPath("config",
                                cl::desc("Model config (JSON, the reference "
                                         "ModelConf names; required)"),
                                cl::value_desc("path"), cl::cat(category));
cl::opt<std::string> outputPath("o",
                                cl::desc("Artifact directory to write "
                                         "(required), e.g. tiny.gecko"),
                                cl::value_desc("dir"), cl::cat(category));
cl::opt<std::string> target("target",
                            cl::desc("cpu (default); nvptx and amdgcn are "
                                     "not implemented for whole models yet"),
                            cl::init("cpu"), cl::value_desc("name"),
                            cl::cat(category));
cl::opt<int64_t> batch("batch", cl::desc("Batch size B of every entry"),
                       cl::init(1), cl::value_desc("N"), cl::cat(category));
cl::opt<bool> multiDocument(
    "multi-document",
    cl::desc("Multi-document mode: tokens == bos_id start a new document "
             "(segment ids in the state)"),
    cl::cat(category));
cl::opt<bool> train("train",
                    cl::desc("Also compile the training entries train_step, "
                             "optimizer_step, accumulate_grads "
                             "(docs/training.md)"),
                    cl::cat(category));
cl::opt<int64_t> trainLength("train-length",
                             cl::desc("Tokens per training row (default "
                                      "4 * chunk_size)"),
                             cl::init(0), cl::value_desc("L"),
                             cl::cat(category));
cl::opt<int64_t> microBatch("micro-batch",
                            cl::desc("Rows per train_step call (default "
                                     "--batch)"),
                            cl::init(0), cl::value_desc("B"),
                            cl::cat(category));
cl::opt<bool> fuseNormEma(
    "fuse-norm-ema",
    cl::desc("Fuse timestep_norm -> cema -> rms_norm (gecko-fuse-norm-ema, "
             "docs/passes/fusion.md); not with --train"),
    cl::cat(category));
cl::opt<bool> fuseAttention(
    "fuse-attention",
    cl::desc("Fuse the attention prologue / epilogue "
             "(gecko-fuse-attention-*, docs/passes/fusion.md); not with "
             "--train"),
    cl::cat(category));
cl::opt<bool> quiet("quiet", cl::desc("No progress lines on stderr"),
                    cl::cat(category));
cl::list<std::string> dumpAfter(
    "dump-ir-after",
    cl::desc("Print the IR after a stage: gecko (the built model), linalg "
             "(gecko-convert-to-linalg), llvm-dialect (gecko-to-cpu), "
             "llvm-ir (optimised LLVM IR) or all; repeatable or "
             "comma-separated"),
    cl::value_desc("stage"), cl::CommaSeparated, cl::cat(category));
cl::opt<std::string> dumpDir("dump-dir",
                             cl::desc("Write the --dump-ir-after output to "
                                      "DIR/<stage>.mlir|.ll instead of "
                                      "stderr"),
                             cl::value_desc("dir"), cl::cat(category));
cl::opt<std::string> targetCpu("mcpu",
                               cl::desc("Target CPU (default: the host's)"),
                               cl::value_desc("name"), cl::cat(category));
cl::opt<std::string>
    targetFeatures("mattr", cl::desc("Target features (default: the host's)"),
                   cl::value_desc("+a1,-a2"), cl::cat(category));
cl::opt<std::string> linker("linker",
                            cl::desc("Linker driver (default clang++-22)"),
                            cl::init("clang++-22"), cl::value_desc("program"),
                            cl::cat(category));

constexpr StringRef kStages[] = {"gecko", "linalg", "llvm-dialect", "llvm-ir"};
constexpr StringRef kLibrary = "model.so";
constexpr StringRef kManifest = "manifest.json";

int fail(const Twine &message, int code = 1) {
  llvm::WithColor::error(llvm::errs(), "gecko-compile") << message << "\n";
  return code;
}

llvm::Error error(const Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// One progress line per stage on stderr: elapsed seconds of the stage and
/// in total, the peak resident set of this process so far (the linker runs
/// as a separate process and is not included).
class Progress {
public:
  explicit Progress(bool enabled)
      : enabled(enabled), begin(Clock::now()), last(begin) {}
  void done(StringRef stage) {
    Clock::time_point now = Clock::now();
    if (enabled) {
      struct rusage self = {};
      getrusage(RUSAGE_SELF, &self);
      std::string line;
      llvm::raw_string_ostream os(line);
      os << llvm::format("gecko-compile: %-16s %8.2f s  (total %8.2f s)  "
                         "peak RSS %6ld MiB",
                         stage.str().c_str(), seconds(last, now),
                         seconds(begin, now), self.ru_maxrss / 1024);
      llvm::errs() << line << "\n";
    }
    last = now;
  }

private:
  using Clock = std::chrono::steady_clock;
  static double seconds(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  }
  bool enabled;
  Clock::time_point begin, last;
};

/// --dump-ir-after: to stderr with a header, or to DIR/<stage>.<ext>
/// (atomically). The first write error is kept and reported at the end.
class Dumper {
public:
  bool wants(StringRef stage) const { return stages.contains(stage); }
  void add(StringRef stage) { stages.insert(stage); }
  bool any() const { return !stages.empty(); }
  template <typename Print>
  void dump(StringRef stage, StringRef extension, Print print) {
    if (!wants(stage) || failed)
      return;
    if (dumpDir.empty()) {
      llvm::errs() << "// ----- IR after " << stage << " -----\n";
      print(llvm::errs());
      llvm::errs() << "\n";
      return;
    }
    llvm::SmallString<128> path(dumpDir);
    llvm::sys::path::append(path, stage + extension);
    if (llvm::Error err = llvm::writeToOutput(path, [&](llvm::raw_ostream &os) {
          print(os);
          return llvm::Error::success();
        })) {
      failed = true;
      message = "cannot write '" + path.str().str() +
                "': " + llvm::toString(std::move(err));
    }
  }
  bool failed = false;
  std::string message;

private:
  llvm::StringSet<> stages;
};

//===----------------------------------------------------------------------===//
// Manifest
//===----------------------------------------------------------------------===//

StringRef dtype(gecko::model::ArgKind kind) {
  using gecko::model::ArgKind;
  switch (kind) {
  case ArgKind::F32:
    return "f32";
  case ArgKind::I64:
  case ArgKind::ScalarI64:
    return "i64";
  case ArgKind::I1:
    return "i1";
  case ArgKind::ComplexF32:
    return "c64";
  }
  return "?";
}

/// The state results are named cache_out.* by the builder; the manifest
/// lists them under the names of the state arguments.
std::string stateName(StringRef name) {
  if (name.consume_front("cache_out."))
    return ("cache." + name).str();
  if (name.consume_front("partial_out."))
    return ("partial." + name).str();
  return name.str();
}

json::Value describe(const gecko::model::ArgInfo &arg) {
  json::Array shape;
  for (int64_t size : arg.shape)
    shape.push_back(size);
  return json::Object{{"name", stateName(arg.name)},
                      {"shape", std::move(shape)},
                      {"dtype", dtype(arg.kind)}};
}

json::Array describeAll(llvm::ArrayRef<gecko::model::ArgInfo> args) {
  json::Array list;
  for (const gecko::model::ArgInfo &arg : args)
    list.push_back(describe(arg));
  return list;
}

json::Value configJson(const gecko::ref::GeckoConfig &c) {
  json::Object o{{"num_layers", c.num_layers},
                 {"model_dim", c.model_dim},
                 {"z_dim", c.z_dim},
                 {"value_dim", c.value_dim},
                 {"num_heads", c.num_heads},
                 {"ffn_hidden_dim", c.ffn_hidden_dim},
                 {"cema_ndim", c.cema_ndim},
                 {"chunk_size", c.chunk_size},
                 {"vocab_size", c.vocab_size},
                 {"timenorm_num_groups", c.timenorm_num_groups},
                 {"timenorm_beta1", c.timenorm_beta1},
                 {"timenorm_beta2", c.timenorm_beta2},
                 {"layernorm_num_groups", c.layernorm_num_groups},
                 {"norm_eps", c.norm_eps},
                 {"rope_base", c.rope_base},
                 {"bos_id", c.bos_id}};
  o["num_rope_heads"] =
      c.num_rope_heads ? json::Value(*c.num_rope_heads) : json::Value(nullptr);
  return o;
}

/// The shortest decimal that reads back as `value`, always with a '.' or
/// an exponent so that it stays a float.
std::string formatDouble(double value) {
  char buffer[64];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value)
      break;
  }
  std::string text = buffer;
  // Integral values as 500000.0 rather than 5e+05.
  if (text.find_first_of("eE") != std::string::npos &&
      std::fabs(value) < 1e15 && value == std::floor(value)) {
    std::snprintf(buffer, sizeof(buffer), "%.1f", value);
    text = buffer;
  }
  if (text.find_first_of(".eEn") == std::string::npos)
    text += ".0";
  return text;
}

bool isScalar(const json::Value &value) {
  return !value.getAsObject() && !value.getAsArray();
}

/// Printed on one line: scalars, arrays of scalars and tensor descriptions.
bool isInline(const json::Value &value) {
  if (isScalar(value))
    return true;
  if (const json::Array *array = value.getAsArray())
    return llvm::all_of(*array, isScalar);
  return value.getAsObject()->get("shape") != nullptr;
}

/// The config values that are reals (json::Value does not tell an
/// integral double from an integer).
bool isRealKey(StringRef key) {
  return key == "timenorm_beta1" || key == "timenorm_beta2" ||
         key == "norm_eps" || key == "rope_base";
}

/// Sorted keys, 2-space indent, tensor descriptions on one line.
void printJson(llvm::raw_ostream &os, const json::Value &value, unsigned indent,
               bool real = false) {
  if (value.kind() == json::Value::Number && (real || !value.getAsInteger())) {
    os << formatDouble(*value.getAsNumber());
    return;
  }
  if (isScalar(value)) {
    json::OStream(os).value(value);
    return;
  }
  bool flat = isInline(value);
  std::string pad(indent + 2, ' ');
  StringRef separator = flat ? ", " : ",\n";
  if (const json::Array *array = value.getAsArray()) {
    if (array->empty()) {
      os << "[]";
      return;
    }
    os << (flat ? "[" : "[\n");
    llvm::interleave(
        *array, os,
        [&](const json::Value &element) {
          if (!flat)
            os << pad;
          printJson(os, element, indent + 2);
        },
        separator);
    os << (flat ? "]" : "\n" + std::string(indent, ' ') + "]");
    return;
  }
  const json::Object &object = *value.getAsObject();
  std::vector<std::string> keys;
  for (const auto &entry : object)
    keys.push_back(entry.first.str());
  llvm::sort(keys);
  os << (flat ? "{" : "{\n");
  llvm::interleave(
      keys, os,
      [&](const std::string &key) {
        if (!flat)
          os << pad;
        json::OStream(os).value(key);
        os << ": ";
        printJson(os, *object.get(key), indent + 2, isRealKey(key));
      },
      separator);
  os << (flat ? "}" : "\n" + std::string(indent, ' ') + "}");
}

/// The manifest of docs/model/artifact.md.
llvm::Expected<json::Value>
buildManifest(const gecko::ref::GeckoConfig &config, int64_t batchSize,
              bool segments, const gecko::exec::AotTarget &host,
              const gecko::model::Signature &first,
              const gecko::model::Signature &chunk,
              const gecko::model::Signature *decode) {
  size_t numParams = gecko::ref::modelParamShapes(config).size();
  if (first.args.size() != 1 + numParams || chunk.args.size() < 2 + numParams)
    return error("internal error: unexpected model signatures");
  llvm::ArrayRef<gecko::model::ArgInfo> params =
      llvm::ArrayRef(chunk.args).slice(1, numParams);
  llvm::ArrayRef<gecko::model::ArgInfo> state =
      llvm::ArrayRef(chunk.args).drop_front(1 + numParams);
  // Result i + 1 of either entry is state i + 1 (state 0 is kv_count).
  for (const gecko::model::Signature *sig : {&first, &chunk}) {
    bool same = sig->results.size() == state.size();
    for (size_t i = 1; same && i < state.size(); ++i)
      same = stateName(sig->results[i].name) == state[i].name &&
             sig->results[i].shape == state[i].shape &&
             sig->results[i].kind == state[i].kind;
    if (!same)
      return error("internal error: the state results of an entry do not "
                   "match the state arguments of 'chunk'");
  }
  auto entry = [&](StringRef name, int64_t length, int64_t start,
                   const gecko::model::Signature &sig) {
    return json::Object{{"name", name},
                        {"symbol", ("_gecko_packed_" + name).str()},
                        {"length", length},
                        {"start", start},
                        {"args", describeAll(sig.args)},
                        {"results", describeAll(sig.results)}};
  };
  json::Array entries{
      entry("first_chunk", config.chunk_size, 0, first),
      entry("chunk", config.chunk_size, config.chunk_size, chunk)};
  json::Object manifest{{"format", "gecko-artifact"},
                        {"version", 1},
                        {"target", "cpu"},
                        {"host", json::Object{{"triple", host.triple},
                                              {"cpu", host.cpu},
                                              {"features", host.features}}},
                        {"library", kLibrary},
                        {"config", configJson(config)},
                        {"batch", batchSize},
                        {"chunk_size", config.chunk_size},
                        {"multi_document", segments},
                        {"params", describeAll(params)},
                        {"state", describeAll(state)}};
  if (decode) {
    // decode: tokens, params, kv_count, the boundary state, the partial
    // state; results: logits, the partial state (same names, by position).
    size_t partialArg0 = 1 + numParams + state.size();
    if (decode->args.size() <= partialArg0 ||
        decode->results.size() != decode->args.size() - partialArg0 + 1)
      return error("internal error: unexpected decode signature");
    llvm::ArrayRef<gecko::model::ArgInfo> partial =
        llvm::ArrayRef(decode->args).drop_front(partialArg0);
    manifest["decode_state"] = describeAll(partial);
    // Valid for every kv_count (start 0 = any position).
    entries.push_back(entry("decode", 1, 0, *decode));
  }
  manifest["entries"] = std::move(entries);
  // The compile options that change the generated code (not the ABI).
  manifest["options"] = json::Object{{"fuse_attention", bool(fuseAttention)},
                                     {"fuse_norm_ema", bool(fuseNormEma)}};
  return manifest;
}

//===----------------------------------------------------------------------===//
// The output directory
//===----------------------------------------------------------------------===//

/// Whether `dir` holds a gecko artifact manifest (then it may be replaced).
bool isArtifact(StringRef dir) {
  llvm::SmallString<128> path(dir);
  llvm::sys::path::append(path, kManifest);
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return false;
  llvm::Expected<json::Value> manifest = json::parse((*buffer)->getBuffer());
  if (!manifest) {
    llvm::consumeError(manifest.takeError());
    return false;
  }
  const json::Object *object = manifest->getAsObject();
  return object && object->getString("format") ==
                       std::optional<StringRef>("gecko-artifact");
}

/// Refuses to replace anything but a gecko artifact.
llvm::Error checkOutput(StringRef path) {
  llvm::sys::fs::file_status status;
  if (llvm::sys::fs::status(path, status))
    return llvm::Error::success(); // does not exist (yet)
  if (status.type() != llvm::sys::fs::file_type::directory_file)
    return error("'" + path +
                 "' exists and is not a directory; refusing to replace it");
  if (!isArtifact(path))
    return error("'" + path + "' is a directory without a gecko artifact " +
                 kManifest + "; refusing to replace it");
  return llvm::Error::success();
}

/// Removes a directory tree on scope exit unless released.
class DirectoryRemover {
public:
  explicit DirectoryRemover(std::string path) : path(std::move(path)) {}
  ~DirectoryRemover() {
    if (!path.empty())
      llvm::sys::fs::remove_directories(path);
  }
  void release() { path.clear(); }

private:
  std::string path;
};

/// Moves the finished `staging` directory to `output`, replacing an
/// existing artifact only once the new one is complete.
llvm::Error install(StringRef staging, StringRef output) {
  if (llvm::Error err = checkOutput(output))
    return err;
  std::string old;
  if (llvm::sys::fs::exists(output)) {
    old = (output + ".old-" + Twine(llvm::sys::Process::getProcessId())).str();
    llvm::sys::fs::remove_directories(old);
    if (std::error_code ec = llvm::sys::fs::rename(output, old))
      return error("cannot move the old artifact '" + output +
                   "' aside: " + ec.message());
  }
  if (std::error_code ec = llvm::sys::fs::rename(staging, output)) {
    if (!old.empty())
      llvm::sys::fs::rename(old, output);
    return error("cannot rename '" + staging + "' to '" + output +
                 "': " + ec.message());
  }
  if (!old.empty())
    llvm::sys::fs::remove_directories(old);
  return llvm::Error::success();
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "gecko-compile: compile a Gecko model ahead of time into an artifact\n\n"
      "  gecko-compile --config=c.json -o out.gecko [--target=cpu]\n"
      "                [--batch=N] [--multi-document] [--quiet]\n\n"
      "Writes the directory out.gecko with model.so (the host shared\n"
      "library: entries _gecko_packed_first_chunk and _gecko_packed_chunk,\n"
      "one chunk of chunk_size tokens each, and _gecko_packed_decode, one\n"
      "token; parameters and streaming state as arguments) and\n"
      "manifest.json (config, host CPU, parameter, state and entry\n"
      "signatures); see docs/model/artifact.md. Run it with gecko-run. An\n"
      "existing output is replaced only if it is an artifact.\n");

  if (configPath.empty())
    return fail("--config=<path> is required");
  if (outputPath.empty())
    return fail("-o <dir> is required");
  // "out.gecko/" names the directory itself (the staging directory and the
  // old artifact go next to it, not inside).
  while (outputPath.size() > 1 &&
         llvm::sys::path::is_separator(outputPath.back()))
    outputPath.getValue().pop_back();
  if (target == "nvptx" || target == "amdgcn")
    return fail("--target=" + target +
                    ": whole-model GPU artifacts are not implemented yet; "
                    "the GPU kernel pipelines exist for single ops and "
                    "kernels (gecko-opt --gecko-to-nvvm / --gecko-to-rocdl, "
                    "docs/targets/gpu.md); use --target=cpu",
                2);
  if (target != "cpu")
    return fail("unknown --target '" + target +
                "' (valid: cpu; nvptx and amdgcn are not implemented yet)");
  if (batch < 1)
    return fail("--batch must be positive, got " + Twine(batch));
  // The fused ops have no adjoint rule and the train entries are compiled
  // in the same module (docs/passes/fusion.md).
  if (train && (fuseNormEma || fuseAttention))
    return fail(Twine("--train cannot be combined with ") +
                (fuseAttention ? "--fuse-attention" : "--fuse-norm-ema") +
                ": the fusions are forward-only (the training entries are "
                "compiled in the same library); compile the training "
                "artifact without them");
  Dumper dumper;
  for (const std::string &stage : dumpAfter) {
    if (stage == "all") {
      for (StringRef s : kStages)
        dumper.add(s);
      continue;
    }
    if (!llvm::is_contained(kStages, StringRef(stage)))
      return fail("unknown --dump-ir-after stage '" + stage +
                  "' (valid: gecko, linalg, llvm-dialect, llvm-ir, all)");
    dumper.add(stage);
  }
  if (!dumpDir.empty() && !dumper.any())
    return fail("--dump-dir needs --dump-ir-after");
  if (!dumpDir.empty())
    if (std::error_code ec = llvm::sys::fs::create_directories(dumpDir))
      return fail("cannot create --dump-dir '" + dumpDir +
                  "': " + ec.message());

  if (!llvm::sys::fs::exists(configPath))
    return fail("cannot read config '" + configPath + "': no such file");
  llvm::Expected<gecko::ref::GeckoConfig> config =
      gecko::model::parseConfigFile(configPath);
  if (!config)
    return fail(configPath + ": " + llvm::toString(config.takeError()));
  if (llvm::Error err = checkOutput(outputPath))
    return fail(llvm::toString(std::move(err)));

  Progress progress(!quiet);
  gecko::model::CallSpec firstSpec;
  firstSpec.batch = batch;
  firstSpec.length = config->chunk_size;
  firstSpec.start = 0;
  firstSpec.stream = true;
  firstSpec.segments = multiDocument;
  gecko::model::CallSpec chunkSpec = firstSpec;
  chunkSpec.start = config->chunk_size;

  llvm::Expected<gecko::model::Signature> firstSig =
      gecko::model::modelSignature(*config, firstSpec);
  if (!firstSig)
    return fail(llvm::toString(firstSig.takeError()));
  llvm::Expected<gecko::model::Signature> chunkSig =
      gecko::model::modelSignature(*config, chunkSpec);
  if (!chunkSig)
    return fail(llvm::toString(chunkSig.takeError()));

  mlir::MLIRContext context;
  context.loadDialect<mlir::gecko::GeckoDialect, mlir::func::FuncDialect,
                      mlir::arith::ArithDialect, mlir::tensor::TensorDialect,
                      mlir::linalg::LinalgDialect,
                      mlir::complex::ComplexDialect>();
  mlir::OpBuilder builder(&context);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::ModuleOp::create(builder.getUnknownLoc());
  // The library never writes into its arguments (docs/model/artifact.md):
  // one-shot bufferization copies where it would update one in place.
  auto readOnly = [&](mlir::func::FuncOp func) {
    for (unsigned i = 0; i < func.getNumArguments(); ++i)
      func.setArgAttr(i, "bufferization.writable", builder.getBoolAttr(false));
  };
  for (auto [name, spec] : {std::pair<StringRef, gecko::model::CallSpec *>{
                                "first_chunk", &firstSpec},
                            {"chunk", &chunkSpec}}) {
    auto func = gecko::model::buildModelFunction(*module, name, *config, *spec);
    if (!func)
      return fail(llvm::toString(func.takeError()));
    readOnly(*func);
  }
  // The decode step needs a partial chunk (chunk_size >= 2).
  std::optional<gecko::model::Signature> decodeSig;
  if (config->chunk_size >= 2) {
    llvm::Expected<gecko::model::Signature> sig =
        gecko::model::decodeSignature(*config, batch, multiDocument);
    if (!sig)
      return fail(llvm::toString(sig.takeError()));
    decodeSig = std::move(*sig);
    auto func = gecko::model::buildDecodeFunction(*module, "decode", *config,
                                                  batch, multiDocument);
    if (!func)
      return fail(llvm::toString(func.takeError()));
    readOnly(*func);
  }
  gecko::model::TrainSpec trainSpec{
      microBatch > 0 ? int64_t(microBatch) : int64_t(batch),
      trainLength > 0 ? int64_t(trainLength) : 4 * config->chunk_size,
      multiDocument};
  if (train)
    if (llvm::Error err =
            gecko::compile::addTrainFunctions(*module, *config, trainSpec))
      return fail(llvm::toString(std::move(err)));
  progress.done("build IR");
  dumper.dump("gecko", ".mlir",
              [&](llvm::raw_ostream &os) { module->print(os); });
  if (mlir::failed(mlir::verify(*module)))
    return fail("internal error: the built model IR does not verify");
  progress.done("verify");

  gecko::exec::AotOptions options;
  options.cpu = targetCpu;
  options.features = targetFeatures;
  options.linker = linker;
  options.emitPackedInterface = true;
  options.fuseNormEma = fuseNormEma;
  options.fuseAttention = fuseAttention;
  options.onStageDone = [&](StringRef stage) { progress.done(stage); };
  if (dumper.any()) {
    options.afterMlirStage = [&](StringRef stage, mlir::ModuleOp m) {
      dumper.dump(stage, ".mlir", [&](llvm::raw_ostream &os) { m.print(os); });
    };
    options.afterLlvmStage = [&](StringRef stage, const llvm::Module &m) {
      dumper.dump(stage, ".ll",
                  [&](llvm::raw_ostream &os) { m.print(os, nullptr); });
    };
  }
  gecko::exec::AotTarget host = gecko::exec::resolveTarget(options);

  // Everything is written into <out>.tmp-<pid> next to the output.
  std::string staging =
      (outputPath + ".tmp-" + Twine(llvm::sys::Process::getProcessId())).str();
  llvm::sys::fs::remove_directories(staging);
  if (std::error_code ec = llvm::sys::fs::create_directory(staging))
    return fail("cannot create '" + staging + "': " + ec.message());
  DirectoryRemover removeStaging(staging);

  llvm::SmallString<128> libraryPath(staging);
  llvm::sys::path::append(libraryPath, kLibrary);
  if (llvm::Error err = gecko::exec::compileAheadOfTime(
          *module, libraryPath, gecko::exec::AotEmit::SharedLibrary, options))
    return fail(llvm::toString(std::move(err)));
  if (dumper.failed)
    return fail(dumper.message);

  llvm::Expected<json::Value> manifest =
      buildManifest(*config, batch, multiDocument, host, *firstSig, *chunkSig,
                    decodeSig ? &*decodeSig : nullptr);
  if (!manifest)
    return fail(llvm::toString(manifest.takeError()));
  if (train)
    if (llvm::Error err = gecko::compile::addTrainManifest(*manifest, *config,
                                                           trainSpec, describe))
      return fail(llvm::toString(std::move(err)));
  llvm::SmallString<128> manifestPath(staging);
  llvm::sys::path::append(manifestPath, kManifest);
  if (llvm::Error err =
          llvm::writeToOutput(manifestPath, [&](llvm::raw_ostream &os) {
            printJson(os, *manifest, 0);
            os << "\n";
            return llvm::Error::success();
          }))
    return fail("cannot write '" + manifestPath +
                "': " + llvm::toString(std::move(err)));
  if (llvm::Error err = install(staging, outputPath))
    return fail(llvm::toString(std::move(err)));
  removeStaging.release();
  progress.done("write manifest");
  return 0;
}
