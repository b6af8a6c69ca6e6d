//===- Model.cpp - Load a Gecko artifact and its weights ------------------===//

#include "gecko/Runtime/Model.h"

#include "gecko/Runtime/Safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fstream>
#include <random>
#include <sstream>
#include <sys/stat.h>

namespace gecko::rt {

namespace {

float *allocFloats(int64_t count) {
  size_t bytes = static_cast<size_t>(count) * sizeof(float);
  return static_cast<float *>(
      std::aligned_alloc(64, std::max<size_t>(64, (bytes + 63) / 64 * 64)));
}

} // namespace

Status Model::load(const std::string &path, std::unique_ptr<Model> *out) {
  struct stat info;
  if (stat(path.c_str(), &info) != 0)
    return Status::error("artifact " + path + ": " + std::strerror(errno));
  if (!S_ISDIR(info.st_mode))
    return Status::error("artifact " + path +
                         " is not a directory (expected the output of "
                         "gecko-compile)");
  std::string manifestPath = path + "/manifest.json";
  std::ifstream in(manifestPath, std::ios::binary);
  if (!in)
    return Status::error("artifact " + path + ": cannot read manifest.json: " +
                         std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  std::unique_ptr<Model> model(new Model());
  model->dir = path;
  if (Status s = parseManifest(text.str(), manifestPath, &model->man); !s)
    return s;
  if (Status s = checkRunnable(model->man); !s)
    return Status::error("artifact " + path + ": " + s.message());
  std::string libPath = path + "/" + model->man.library;
  if (stat(libPath.c_str(), &info) != 0)
    return Status::error("artifact " + path + ": library " +
                         model->man.library + " is missing (" +
                         std::strerror(errno) + ")");
  model->library = dlopen(libPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!model->library) {
    const char *why = dlerror();
    return Status::error("artifact " + path + ": cannot load " + libPath +
                         ": " + (why ? why : "dlopen failed"));
  }
  for (const EntrySpec *e : {&model->man.firstChunk, &model->man.chunk}) {
    void *sym = dlsym(model->library, e->symbol.c_str());
    if (!sym)
      return Status::error("artifact " + path + ": " + model->man.library +
                           " does not export " + e->symbol + " (entry '" +
                           e->name + "')");
    PackedFn fn = reinterpret_cast<PackedFn>(sym);
    (e == &model->man.firstChunk ? model->firstFn : model->chunkFnPtr) = fn;
  }
  if (model->man.hasDecode) {
    const EntrySpec &e = model->man.decode;
    void *sym = dlsym(model->library, e.symbol.c_str());
    if (!sym)
      return Status::error("artifact " + path + ": " + model->man.library +
                           " does not export " + e.symbol + " (entry '" +
                           e.name + "')");
    model->decodeFnPtr = reinterpret_cast<PackedFn>(sym);
  }
  *out = std::move(model);
  return Status::success();
}

Status Model::setNumThreads(int threads) {
  if (threads < 1)
    return Status::error("the thread count must be at least 1");
  using SetThreads = void (*)(int);
  auto set =
      reinterpret_cast<SetThreads>(dlsym(library, "omp_set_num_threads"));
  if (!set)
    return Status::error(man.library +
                         " does not use OpenMP (omp_set_num_threads not "
                         "found); --threads has no effect");
  set(threads);
  return Status::success();
}

Model::~Model() {
  freeParams();
  // The library is deliberately not dlclose'd: its OpenMP runtime may still
  // own worker threads, and unloading code they run is unsafe. The OS
  // releases it at exit.
}

void Model::freeParams() {
  for (float *p : params)
    std::free(p);
  params.clear();
}

Status Model::loadWeights(const std::string &safetensorsPath) {
  std::unique_ptr<st::File> file;
  if (Status s = st::File::open(safetensorsPath, &file); !s)
    return s;
  std::vector<std::string> problems;
  std::set<std::string> expected;
  for (const TensorSpec &p : man.params) {
    expected.insert(p.name);
    const st::TensorView *t = file->find(p.name);
    if (!t) {
      problems.push_back("missing tensor '" + p.name + "' (F32 " +
                         st::shapeString(p.shape) + ")");
      continue;
    }
    if (t->dtype != st::DType::F32)
      problems.push_back("tensor '" + p.name + "' has dtype " +
                         st::dtypeName(t->dtype) + ", expected F32");
    if (t->shape != p.shape)
      problems.push_back("tensor '" + p.name + "' has shape " +
                         st::shapeString(t->shape) + ", expected " +
                         st::shapeString(p.shape));
  }
  for (const st::TensorView &t : file->tensors())
    if (!expected.count(t.name))
      problems.push_back("unexpected tensor '" + t.name + "'");
  if (!problems.empty()) {
    std::string text = safetensorsPath +
                       ": the weights do not match the "
                       "artifact (" +
                       std::to_string(problems.size()) + " problem" +
                       (problems.size() == 1 ? "" : "s") + "):";
    for (const std::string &p : problems)
      text += "\n  " + p;
    return Status::error(text);
  }
  freeParams();
  for (const TensorSpec &p : man.params) {
    const st::TensorView *t = file->find(p.name);
    float *buf = allocFloats(p.numel());
    std::memcpy(buf, t->data, t->bytes);
    params.push_back(buf);
  }
  return Status::success();
}

Status Model::initRandom(uint64_t seed) {
  // Mirrors gecko::ref::randomParams (lib/Reference/Model.cpp) so a seed
  // gives the same values: matrices N(0, 1/in) (embedding N(0, 1)), CEMA
  // alpha/delta N(0, 0.5^2), theta N(0, 1), gamma N(0, 1/N), everything else
  // (norm scales applied as 1 + w, biases, z-split gamma/beta) N(0, 0.1^2).
  freeParams();
  std::mt19937_64 rng(seed);
  for (const TensorSpec &p : man.params) {
    const std::string &name = p.name;
    size_t dot = name.rfind('.');
    std::string leaf = dot == std::string::npos ? name : name.substr(dot + 1);
    bool isCema = name.find(".cema.") != std::string::npos;
    double stddev = 0.1;
    if (leaf == "weight" && p.shape.size() == 2)
      stddev = name == "embed.weight" ? 1.0 : 1.0 / std::sqrt(p.shape[1]);
    else if (isCema && (leaf == "alpha" || leaf == "delta"))
      stddev = 0.5;
    else if (isCema && leaf == "theta")
      stddev = 1.0;
    else if (isCema && leaf == "gamma" && p.shape.size() >= 2)
      stddev = 1.0 / std::sqrt(p.shape[1]);
    std::normal_distribution<double> dist(0.0, stddev);
    float *buf = allocFloats(p.numel());
    for (int64_t i = 0; i < p.numel(); ++i)
      buf[i] = static_cast<float>(dist(rng));
    params.push_back(buf);
  }
  return Status::success();
}

} // namespace gecko::rt
