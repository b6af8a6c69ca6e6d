//===- Options.cpp - gecko-run's shared command-line plumbing -------------===//

#include "Options.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace gecko::run {

bool Options::has(const std::string &key) const {
  return values.count(key) ||
         std::find(flags.begin(), flags.end(), key) != flags.end();
}

std::string Options::get(const std::string &key, const std::string &def) const {
  auto it = values.find(key);
  return it == values.end() ? def : it->second;
}

int fail(const std::string &message) {
  std::fprintf(stderr, "gecko-run: error: %s\n", message.c_str());
  return 1;
}

bool parseOptions(int argc, char **argv, const std::vector<std::string> &flags,
                  const std::vector<std::string> &valued, Options *opts,
                  std::string *error) {
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    std::string key = arg, value;
    bool inlineValue = false;
    size_t eq = arg.find('=');
    if (arg.compare(0, 2, "--") == 0 && eq != std::string::npos) {
      key = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      inlineValue = true;
    }
    bool isHelp = key == "--help" || key == "-h";
    if (isHelp || std::find(flags.begin(), flags.end(), key) != flags.end()) {
      if (inlineValue) {
        *error = "option " + key + " takes no value";
        return false;
      }
      if (isHelp)
        opts->help = true;
      else
        opts->flags.push_back(key);
      continue;
    }
    if (std::find(valued.begin(), valued.end(), key) == valued.end()) {
      *error = "unknown option '" + arg + "' (see gecko-run " + opts->command +
               " --help)";
      return false;
    }
    if (!inlineValue) {
      if (i + 1 >= argc) {
        *error = "option " + key + " needs a value";
        return false;
      }
      value = argv[++i];
    }
    if (opts->values.count(key)) {
      *error = "option " + key + " given twice";
      return false;
    }
    opts->values[key] = value;
  }
  return true;
}

bool parseInt(const std::string &text, int64_t min, int64_t *out) {
  if (text.empty())
    return false;
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno || *end || v < min)
    return false;
  *out = v;
  return true;
}

bool parseDouble(const std::string &text, double *out) {
  if (text.empty())
    return false;
  char *end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (*end || !std::isfinite(v))
    return false;
  *out = v;
  return true;
}

double now() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

rt::Status loadOrInitWeights(rt::Model &model, const Options &opts,
                             uint64_t seed) {
  if (opts.has("--weights"))
    return model.loadWeights(opts.get("--weights"));
  return model.initRandom(seed);
}

} // namespace gecko::run
