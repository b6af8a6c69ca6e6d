//===- Options.h - gecko-run's shared command-line plumbing -----*- C++ -*-===//
//
// What every gecko-run subcommand (score / generate / stream in
// gecko-run.cpp, train / make-task in Train.cpp) parses its options with,
// and the weight loading they share.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_TOOLS_GECKO_RUN_OPTIONS_H
#define GECKO_TOOLS_GECKO_RUN_OPTIONS_H

#include "gecko/Runtime/Model.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace gecko::run {

/// The options after the command name.
struct Options {
  std::string command;
  std::map<std::string, std::string> values;
  std::vector<std::string> flags;
  bool help = false;

  bool has(const std::string &key) const;
  std::string get(const std::string &key, const std::string &def = "") const;
};

/// Prints "gecko-run: error: <message>"; returns 1 (the exit status).
int fail(const std::string &message);

/// Parses argv[2..] into `opts` (opts->command names the command in the
/// errors): `--key=value`, `--key value`, `-o value`, the boolean `flags`
/// and --help / -h (sets opts->help). Unknown, repeated or value-less
/// options are errors.
bool parseOptions(int argc, char **argv, const std::vector<std::string> &flags,
                  const std::vector<std::string> &valued, Options *opts,
                  std::string *error);

/// A decimal integer >= `min` (the whole text).
bool parseInt(const std::string &text, int64_t min, int64_t *out);
/// A finite number (the whole text).
bool parseDouble(const std::string &text, double *out);

/// Seconds on a steady clock.
double now();

/// The parameters of `model`: --weights FILE when given, else random ones
/// from `seed` (--init-random).
rt::Status loadOrInitWeights(rt::Model &model, const Options &opts,
                             uint64_t seed);

} // namespace gecko::run

#endif // GECKO_TOOLS_GECKO_RUN_OPTIONS_H
