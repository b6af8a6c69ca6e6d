//===- Manifest.h - The device check's manifest.json, validated ---*- C++
//-*-===//
//
// What gecko-device-prepare wrote (docs/targets/device-check.md): per case
// the kernel library, its arguments (a tensor from the case file, the args
// file or a regenerated random input, or an i64 scalar), its results and
// the accepted error. loadCase() reads the data files and checks every
// argument and expected tensor against the manifest, so that a dry run
// finds every inconsistency without a GPU.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_DEVICECHECK_MANIFEST_H
#define GECKO_DEVICECHECK_MANIFEST_H

#include "TensorFile.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace gecko::devcheck {

struct ArgSpec {
  bool scalar = false;
  int64_t value = 0;
  /// "case", "args" or "random".
  std::string from, key;
  /// f32, f16, bf16, i64, i1, c64 (the MLIR shape: c64 without the (re, im)
  /// axis).
  std::string dtype;
  std::vector<int64_t> shape;
};

struct ResultSpec {
  std::string key, dtype;
  std::vector<int64_t> shape;
  bool compare = true;
};

struct RandomSpec {
  std::string key;
  std::vector<int64_t> shape;
  uint64_t seed = 0;
  double lo = 0, hi = 1;
};

struct CaseSpec {
  std::string name, op, variant, origin, shape;
  std::string library, symbol, caseFile, argsFile;
  double tolerance = 0;
  std::map<std::string, std::string> metadata;
  std::vector<ArgSpec> args;
  std::vector<ResultSpec> results;
  std::vector<RandomSpec> randomInputs;
  std::vector<std::string> kernels;
};

struct Manifest {
  std::string chip, features, binaryFormat;
  std::vector<CaseSpec> cases;
};

/// Reads `<dir>/manifest.json`.
bool readManifest(const std::string &dir, Manifest &out, std::string &error);

/// A case's data, checked against its spec.
struct LoadedCase {
  TensorFile caseFile;
  /// The regenerated random inputs (F32), by key.
  TensorFile randomInputs;
  /// Per argument: its bytes in the kernel's element type (empty for
  /// scalars).
  std::vector<std::vector<uint8_t>> argBytes;
};

bool loadCase(const std::string &dir, const CaseSpec &spec, LoadedCase &out,
              std::string &error);

/// Bytes per element of a kernel dtype (c64: 8), 0 when unknown.
size_t kernelDtypeSize(const std::string &dtype);

/// The shape of the stored form of a kernel value (c64: + trailing 2).
std::vector<int64_t> storedShape(const std::string &dtype,
                                 const std::vector<int64_t> &shape);

/// "2x12x16".
std::string shapeText(const std::vector<int64_t> &shape);

} // namespace gecko::devcheck

#endif // GECKO_DEVICECHECK_MANIFEST_H
