//===- RandomCases.h - Larger random cases of the device check ---*- C++
//-*-===//
//
// Golden-style cases (op metadata + in.* / param.* / gout.* tensors) at
// sizes where the GPU does real work, with inputs from runner/Random.h so
// that the run driver regenerates them instead of carrying them. Expected
// values come from the reference backend (gecko::ref, float64).
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_DEVICECHECK_RANDOMCASES_H
#define GECKO_DEVICECHECK_RANDOMCASES_H

#include "../../gecko-conform/GoldenCase.h"

#include <cstdint>
#include <string>
#include <vector>

namespace gecko::devcheck {

struct RandomTensor {
  std::string key;
  std::vector<int64_t> shape;
  double lo = -1, hi = 1;
  uint64_t seed = 0;
};

struct RandomCase {
  /// "<op>__rand_<what>", unique.
  std::string name;
  /// For the table, e.g. "B=2 L=1037 H=4 dz=64 dv=128 C=61".
  std::string shape;
  /// Accepted error (gecko-conform's metric) of the GPU results.
  double tolerance = 1e-4;
  /// gecko-to-nvvm token-tile-size (0: the pipeline's default). The
  /// row-wise norms keep a tile's rows in static shared memory (48 KB at
  /// most): D = 1024 f32 rows need tiles of <= 8 tokens.
  int64_t tokenTile = 0;
  /// op, variant and the op constants.
  std::map<std::string, std::string> metadata;
  std::vector<RandomTensor> tensors;
};

/// The random cases: `small` shrinks every size (for tests).
std::vector<RandomCase> randomCases(bool small);

/// The case with its tensors drawn (as floats, stored in doubles).
conform::GoldenCase materialize(const RandomCase &spec);

} // namespace gecko::devcheck

#endif // GECKO_DEVICECHECK_RANDOMCASES_H
