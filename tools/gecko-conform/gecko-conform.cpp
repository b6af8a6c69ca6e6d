//===- gecko-conform.cpp - Golden conformance checker
//----------------------===//
//
// Runs every golden .safetensors case through a backend and compares what it
// produces with the golden values. See docs/tools/gecko-conform.md.
//
//===----------------------------------------------------------------------===//

#include "Backend.h"
#include "Compare.h"
#include "GoldenCase.h"

#include "gecko/Support/Safetensors.h"
#include "gecko/Support/TensorIO.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <set>

using namespace llvm;
using namespace gecko;
using namespace gecko::conform;

namespace {

cl::OptionCategory conformCategory("gecko-conform options");

cl::opt<std::string> backendName(
    "backend", cl::desc("Backend that runs the cases (default: reference)"),
    cl::value_desc("name"), cl::init("reference"), cl::cat(conformCategory));

cl::opt<double>
    tolerance("tol",
              cl::desc("Largest accepted error max|a-b|/max(1,|b|) per tensor "
                       "(default: 1e-5)"),
              cl::value_desc("x"), cl::init(1e-5), cl::cat(conformCategory));

cl::opt<bool> verbose("verbose",
                      cl::desc("Print every compared tensor and every golden "
                               "tensor the backend did not produce"),
                      cl::init(false), cl::cat(conformCategory));

cl::list<std::string> inputPaths(cl::Positional, cl::OneOrMore,
                                 cl::desc("<golden .safetensors file or "
                                          "directory>..."),
                                 cl::cat(conformCategory));

constexpr int kExitUsage = 2;

/// A golden case plus which of its tensors hold integers / booleans (those
/// must match exactly).
struct LoadedCase {
  GoldenCase golden;
  std::set<std::string> exactKeys;
};

Expected<LoadedCase> loadCase(StringRef path) {
  Expected<safetensors::File> file = safetensors::readFile(path);
  if (!file)
    return file.takeError();
  LoadedCase loaded;
  GoldenCase &golden = loaded.golden;
  golden.path = path.str();
  golden.metadata = std::move(file->metadata);
  auto op = golden.metadata.find("op");
  if (op == golden.metadata.end())
    return createStringError(inconvertibleErrorCode(),
                             "%s: missing metadata 'op'", path.str().c_str());
  golden.op = op->second;
  auto variant = golden.metadata.find("variant");
  if (variant != golden.metadata.end())
    golden.variant = variant->second;
  for (const auto &entry : file->tensors) {
    golden.tensors[entry.first] = safetensors::toTensor(entry.second);
    safetensors::DType dtype = entry.second.dtype;
    if (dtype == safetensors::DType::I64 || dtype == safetensors::DType::I32 ||
        dtype == safetensors::DType::BOOL)
      loaded.exactKeys.insert(entry.first);
  }
  return std::move(loaded);
}

std::string formatError(double error) {
  std::string text;
  raw_string_ostream os(text);
  if (std::isinf(error))
    os << "inf";
  else
    os << format("%.2e", error);
  return text;
}

/// Runs one file; prints its line and returns whether it passed.
bool checkFile(StringRef path, Backend &backend) {
  Expected<LoadedCase> loaded = loadCase(path);
  if (!loaded) {
    // Loader errors already name the file.
    outs() << "FAIL  " << path << "  " << toString(loaded.takeError()) << "\n";
    return false;
  }
  const GoldenCase &golden = loaded->golden;
  CaseResults results;
  if (Error error = backend.run(golden, results)) {
    outs() << "FAIL  " << path << "  " << toString(std::move(error)) << "\n";
    return false;
  }

  double worst = 0;
  std::string worstKey;
  int compared = 0;
  std::vector<std::string> details, missing;
  for (const auto &[key, expected] : golden.tensors) {
    if (!isExpectedResultKey(key))
      continue;
    auto produced = results.tensors.find(key);
    if (produced == results.tensors.end()) {
      missing.push_back(key);
      continue;
    }
    Comparison comparison = compareTensors(produced->second, expected,
                                           loaded->exactKeys.count(key) != 0);
    ++compared;
    if (comparison.error > worst || worstKey.empty()) {
      worst = comparison.error;
      worstKey = key;
    }
    if (verbose)
      details.push_back(
          (Twine("    ") + (comparison.error <= tolerance ? "ok   " : "BAD  ") +
           key + "  err=" + formatError(comparison.error) +
           (comparison.reason.empty() ? "" : "  (" + comparison.reason + ")"))
              .str());
  }

  bool passed = compared > 0 && worst <= tolerance;
  outs() << (passed ? "PASS" : "FAIL") << "  " << path;
  if (compared == 0)
    outs() << "  nothing compared: the " << backend.name()
           << " backend produced none of the " << missing.size()
           << " golden result tensors";
  else
    outs() << "  tensors=" << compared << "  worst=" << formatError(worst)
           << " " << worstKey;
  if (!missing.empty() && compared > 0)
    outs() << "  missing=" << missing.size();
  outs() << "\n";
  for (const std::string &line : details)
    outs() << line << "\n";
  if (verbose)
    for (const std::string &key : missing)
      outs() << "    missing  " << key << "  (not produced by "
             << backend.name() << ")\n";
  return passed;
}

/// The files named by `path`: itself, or the *.safetensors files of a
/// directory in sorted order. An error for a missing path or an empty
/// directory.
Expected<std::vector<std::string>> expandPath(StringRef path) {
  if (!sys::fs::exists(path))
    return createStringError(inconvertibleErrorCode(),
                             "no such file or directory");
  if (!sys::fs::is_directory(path))
    return std::vector<std::string>{path.str()};
  std::vector<std::string> files;
  std::error_code ec;
  for (sys::fs::directory_iterator it(path, ec), end; it != end && !ec;
       it.increment(ec)) {
    if (sys::path::extension(it->path()) == ".safetensors" &&
        !sys::fs::is_directory(it->path()))
      files.push_back(it->path());
  }
  if (ec)
    return createStringError(ec, "cannot list directory: %s",
                             ec.message().c_str());
  if (files.empty())
    return createStringError(inconvertibleErrorCode(),
                             "no *.safetensors files in directory");
  std::sort(files.begin(), files.end());
  return std::move(files);
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(conformCategory);
  cl::SetVersionPrinter([](raw_ostream &os) {
    os << "gecko-conform (Gecko compiler toolkit)\n";
  });
  if (!cl::ParseCommandLineOptions(
          argc, argv,
          "Gecko golden conformance checker\n\n"
          "Runs golden .safetensors cases (files, or every *.safetensors in a "
          "directory) through a backend and compares each produced out.*, "
          "int.*, grad.*, cache.*, cache_out.* and full.* tensor with the "
          "golden value: err = max|a-b|/max(1,|b|) over finite entries; "
          "non-finite entries and integer tensors must match exactly.\n"
          "Prints one PASS/FAIL line per file, then 'N passed, N failed'.\n"
          "Exit status: 0 all passed, 1 some failed, 2 usage error.\n",
          &errs()))
    return kExitUsage;

  if (!(tolerance >= 0) || std::isinf(tolerance)) {
    errs() << "gecko-conform: --tol must be a finite number >= 0\n";
    return kExitUsage;
  }
  std::unique_ptr<Backend> backend = createBackend(backendName);
  if (!backend) {
    errs() << "gecko-conform: unknown backend '" << backendName
           << "' (available:";
    for (StringRef name : backendNames())
      errs() << " " << name;
    errs() << ")\n";
    return kExitUsage;
  }

  int passed = 0, failed = 0;
  for (const std::string &path : inputPaths) {
    Expected<std::vector<std::string>> files = expandPath(path);
    if (!files) {
      outs() << "FAIL  " << path << "  " << toString(files.takeError()) << "\n";
      ++failed;
      continue;
    }
    for (const std::string &file : *files)
      ++(checkFile(file, *backend) ? passed : failed);
  }
  outs() << passed << " passed, " << failed << " failed\n";
  return failed ? 1 : 0;
}
