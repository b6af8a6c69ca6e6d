//===- Train.cpp - Train a compiled Gecko model, checkpoints --------------===//
//
// The training entries are called through the packed interface
// (docs/model/artifact.md): args[0] = result storage (one memref descriptor
// per result, all 8-byte words), args[1 + i] = pointer to argument i's
// descriptor pointer. train_step's result buffers are malloc'ed by the
// library; the first micro-batch's gradients become the accumulators, the
// others are added with accumulate_grads and freed, the accumulators are
// freed after optimizer_step.
//
//===----------------------------------------------------------------------===//

#include "gecko/Runtime/Train.h"

#include "AtomicFile.h"

#include "gecko/Runtime/Json.h"
#include "gecko/Runtime/Safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <dlfcn.h>
#include <fstream>
#include <optional>
#include <sstream>
#include <unistd.h>

namespace gecko::rt {

namespace {

constexpr const char *kCheckpointFormat = "gecko-train-checkpoint";

std::string specString(const TensorSpec &t) {
  return "'" + t.name + "' " + elemTypeName(t.type) + " " +
         st::shapeString(t.shape);
}

/// `got` must be `want`, entry by entry.
Status checkSpecs(const std::string &what, const std::vector<TensorSpec> &got,
                  const std::vector<TensorSpec> &want) {
  if (got.size() != want.size())
    return Status::error(what + " has " + std::to_string(got.size()) +
                         " entries, expected " + std::to_string(want.size()));
  for (size_t i = 0; i < got.size(); ++i)
    if (got[i].name != want[i].name || got[i].shape != want[i].shape ||
        got[i].type != want[i].type)
      return Status::error(what + " entry " + std::to_string(i) + " is " +
                           specString(got[i]) + ", expected " +
                           specString(want[i]));
  return Status::success();
}

std::vector<TensorSpec> prefixed(const std::vector<TensorSpec> &params,
                                 const std::string &prefix) {
  std::vector<TensorSpec> out = params;
  for (TensorSpec &t : out)
    t.name = prefix + t.name;
  return out;
}

float *allocZeros(int64_t count) {
  size_t bytes = std::max<size_t>(64, (count * sizeof(float) + 63) / 64 * 64);
  auto *p = static_cast<float *>(std::aligned_alloc(64, bytes));
  if (p)
    std::memset(p, 0, bytes);
  return p;
}

/// Memref descriptors of one call: add() every argument, then packed().
class CallArgs {
public:
  void add(const void *data, const std::vector<int64_t> &shape) {
    std::vector<int64_t> w(3 + 2 * shape.size());
    w[0] = w[1] = reinterpret_cast<int64_t>(data);
    w[2] = 0;
    int64_t stride = 1;
    for (size_t i = shape.size(); i-- > 0;) {
      w[3 + i] = shape[i];
      w[3 + shape.size() + i] = stride;
      stride *= shape[i];
    }
    words.push_back(std::move(w));
  }
  /// A descriptor returned by the library, passed on unchanged.
  void addDescriptor(const int64_t *desc, size_t rank) {
    words.emplace_back(desc, desc + 3 + 2 * rank);
  }
  void **packed(void *resultStorage) {
    ptrs.clear();
    for (std::vector<int64_t> &w : words)
      ptrs.push_back(w.data());
    slots.assign(1, resultStorage);
    for (void *&p : ptrs)
      slots.push_back(&p);
    return slots.data();
  }

private:
  std::vector<std::vector<int64_t>> words;
  std::vector<void *> ptrs, slots;
};

/// Result storage of an entry: one descriptor per result.
struct Results {
  std::vector<int64_t> words;
  std::vector<size_t> offsets; // word offset of each result
  explicit Results(const std::vector<TensorSpec> &specs) {
    size_t n = 0;
    for (const TensorSpec &t : specs) {
      offsets.push_back(n);
      n += 3 + 2 * t.shape.size();
    }
    words.assign(std::max<size_t>(n, 1), 0);
  }
  const int64_t *desc(size_t i) const { return words.data() + offsets[i]; }
  void *allocated(size_t i) const {
    return reinterpret_cast<void *>(desc(i)[0]);
  }
  float *data(size_t i) const {
    return reinterpret_cast<float *>(desc(i)[1]) + desc(i)[2];
  }
};

uint64_t fnv1a(uint64_t h, const void *data, size_t size) {
  const auto *p = static_cast<const uint8_t *>(data);
  for (size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}
constexpr uint64_t kFnvBasis = 14695981039346656037ull;

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx",
                static_cast<unsigned long long>(v));
  return buf;
}

bool parseI64(const std::string &text, int64_t *out) {
  if (text.empty())
    return false;
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno || *end)
    return false;
  *out = v;
  return true;
}

} // namespace

//===----------------------------------------------------------------------===//
// The manifest's training section
//===----------------------------------------------------------------------===//

Status loadTrainSpec(const Model &model, TrainSpec *out) {
  const Manifest &man = model.manifest();
  std::string path = model.path() + "/manifest.json";
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  std::string error;
  std::optional<json::Value> root = json::parse(text.str(), &error);
  if (!root)
    return Status::error(path + ": invalid JSON: " + error);
  const json::Value *train = root->get("train");
  if (!train)
    return Status::error(
        "artifact " + model.path() +
        " has no training entries (compile it with gecko-compile --train)");
  auto bad = [&](const std::string &what) {
    return Status::error(path + ": train." + what);
  };
  if (!train->isObject())
    return bad(" must be an object");
  TrainSpec spec;
  const json::Value *b = train->get("batch"), *l = train->get("length"),
                    *md = train->get("multi_document"),
                    *decay = train->get("weight_decay");
  if (!b || !b->asInt() || *b->asInt() < 1)
    return bad("batch must be a positive integer");
  if (!l || !l->asInt() || *l->asInt() < 1)
    return bad("length must be a positive integer");
  if (!md || !md->isBool())
    return bad("multi_document must be a boolean");
  if (!decay || !decay->isArray())
    return bad("weight_decay must be a list of parameter names");
  spec.batch = *b->asInt();
  spec.length = *l->asInt();
  spec.multiDocument = md->asBool();
  if (spec.length % man.chunkSize)
    return bad("length " + std::to_string(spec.length) +
               " is not a multiple of chunk_size " +
               std::to_string(man.chunkSize));
  spec.decay.assign(man.params.size(), false);
  for (const json::Value &name : decay->items()) {
    auto it = std::find_if(
        man.params.begin(), man.params.end(),
        [&](const TensorSpec &p) { return p.name == name.asString(); });
    if (!name.isString() || it == man.params.end())
      return bad("weight_decay names an unknown parameter");
    spec.decay[it - man.params.begin()] = true;
  }
  auto entry = [&](const std::string &name, EntrySpec *e) -> Status {
    for (const EntrySpec &other : man.otherEntries)
      if (other.name == name) {
        *e = other;
        return Status::success();
      }
    return Status::error(path + ": no entry '" + name + "'");
  };
  if (Status s = entry("train_step", &spec.trainStep); !s)
    return s;
  if (Status s = entry("optimizer_step", &spec.optimizerStep); !s)
    return s;
  if (Status s = entry("accumulate_grads", &spec.accumulateGrads); !s)
    return s;

  // The signatures of include/gecko/Model/TrainStep.h.
  std::vector<TensorSpec> want = {
      {"inputs", {spec.batch, spec.length}, ElemType::I64},
      {"targets", {spec.batch, spec.length}, ElemType::I64}};
  want.insert(want.end(), man.params.begin(), man.params.end());
  std::vector<TensorSpec> grads = prefixed(man.params, "grad.");
  std::vector<TensorSpec> results = {{"loss", {}, ElemType::F32}};
  results.insert(results.end(), grads.begin(), grads.end());
  if (Status s =
          checkSpecs(path + ": train_step args", spec.trainStep.args, want);
      !s)
    return s;
  if (Status s = checkSpecs(path + ": train_step results",
                            spec.trainStep.results, results);
      !s)
    return s;
  want = {{"hyper", {8}, ElemType::F32}};
  for (const char *prefix : {"", "grad.", "adam_m.", "adam_v."}) {
    std::vector<TensorSpec> p = prefixed(man.params, prefix);
    want.insert(want.end(), p.begin(), p.end());
  }
  if (Status s = checkSpecs(path + ": optimizer_step args",
                            spec.optimizerStep.args, want);
      !s)
    return s;
  if (Status s = checkSpecs(path + ": optimizer_step results",
                            spec.optimizerStep.results,
                            {{"stats", {2}, ElemType::F32}});
      !s)
    return s;
  want = prefixed(man.params, "acc.");
  want.insert(want.end(), grads.begin(), grads.end());
  if (Status s = checkSpecs(path + ": accumulate_grads args",
                            spec.accumulateGrads.args, want);
      !s)
    return s;
  if (!spec.accumulateGrads.results.empty())
    return Status::error(path + ": accumulate_grads must have no results");
  *out = std::move(spec);
  return Status::success();
}

double learningRate(const OptimizerConfig &c, int64_t step) {
  if (c.warmup > 0 && step <= c.warmup)
    return c.lr * static_cast<double>(step) / static_cast<double>(c.warmup);
  int64_t decaySteps = c.steps - c.warmup;
  if (decaySteps <= 0)
    return c.lr;
  double progress = static_cast<double>(step - c.warmup) / decaySteps;
  progress = std::min(1.0, std::max(0.0, progress));
  const double pi = 3.14159265358979323846;
  return c.minLr + 0.5 * (c.lr - c.minLr) * (1.0 + std::cos(pi * progress));
}

//===----------------------------------------------------------------------===//
// Trainer
//===----------------------------------------------------------------------===//

Status Trainer::create(Model &model, std::unique_ptr<Trainer> *out) {
  if (!model.hasWeights())
    return Status::error("the model has no weights to train");
  std::unique_ptr<Trainer> t(new Trainer(model));
  if (Status s = loadTrainSpec(model, &t->train); !s)
    return s;
  std::string lib = model.path() + "/" + model.manifest().library;
  // The library is already loaded by the Model: this only takes a reference.
  t->library = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!t->library)
    return Status::error("cannot load " + lib + ": " + dlerror());
  auto resolve = [&](const EntrySpec &e, Model::PackedFn *fn) -> Status {
    *fn =
        reinterpret_cast<Model::PackedFn>(dlsym(t->library, e.symbol.c_str()));
    if (!*fn)
      return Status::error(lib + " does not export " + e.symbol);
    return Status::success();
  };
  if (Status s = resolve(t->train.trainStep, &t->trainFn); !s)
    return s;
  if (Status s = resolve(t->train.optimizerStep, &t->optimizerFn); !s)
    return s;
  if (Status s = resolve(t->train.accumulateGrads, &t->accumulateFn); !s)
    return s;
  for (const TensorSpec &p : model.manifest().params) {
    t->m.push_back(allocZeros(p.numel()));
    t->v.push_back(allocZeros(p.numel()));
    if (!t->m.back() || !t->v.back())
      return Status::error("out of memory for the AdamW moments");
  }
  *out = std::move(t);
  return Status::success();
}

Trainer::~Trainer() {
  for (float *p : m)
    std::free(p);
  for (float *p : v)
    std::free(p);
  if (library)
    dlclose(library);
}

Status Trainer::step(const int64_t *inputs, const int64_t *targets,
                     int64_t microBatches, int64_t step,
                     const OptimizerConfig &config, StepStats *out) {
  const std::vector<TensorSpec> &params = model.manifest().params;
  size_t numParams = params.size();
  if (microBatches < 1 || step < 1)
    return Status::error("Trainer::step needs microBatches >= 1, step >= 1");
  std::vector<int64_t> rowShape = {train.batch, train.length};
  int64_t tokens = train.batch * train.length;

  // train_step per micro-batch; the gradients are summed into `acc`.
  std::vector<void *> accAllocated;
  std::vector<std::vector<int64_t>> accDesc;
  double lossSum = 0;
  auto freeAcc = [&]() {
    for (void *p : accAllocated)
      std::free(p);
    accAllocated.clear();
  };
  for (int64_t k = 0; k < microBatches; ++k) {
    CallArgs args;
    args.add(inputs + k * tokens, rowShape);
    args.add(targets + k * tokens, rowShape);
    for (size_t i = 0; i < numParams; ++i)
      args.add(model.param(i), params[i].shape);
    Results res(train.trainStep.results);
    trainFn(args.packed(res.words.data()));
    float loss = *res.data(0);
    // Free the loss buffer (never an argument: train_step's arguments are
    // not writable, so no result aliases one).
    std::free(res.allocated(0));
    if (!std::isfinite(loss)) {
      for (size_t i = 0; i < numParams; ++i)
        std::free(res.allocated(1 + i));
      freeAcc();
      return Status::error("step " + std::to_string(step) +
                           ": the loss is not finite (" + std::to_string(loss) +
                           "); the parameters were not updated");
    }
    lossSum += loss;
    if (k == 0) {
      for (size_t i = 0; i < numParams; ++i) {
        accAllocated.push_back(res.allocated(1 + i));
        const int64_t *d = res.desc(1 + i);
        accDesc.emplace_back(d, d + 3 + 2 * params[i].shape.size());
      }
      continue;
    }
    CallArgs acc;
    for (size_t i = 0; i < numParams; ++i)
      acc.addDescriptor(accDesc[i].data(), params[i].shape.size());
    for (size_t i = 0; i < numParams; ++i)
      acc.addDescriptor(res.desc(1 + i), params[i].shape.size());
    int64_t none = 0;
    accumulateFn(acc.packed(&none));
    for (size_t i = 0; i < numParams; ++i)
      std::free(res.allocated(1 + i));
  }

  double lr = learningRate(config, step);
  std::vector<float> hyper = {static_cast<float>(lr),
                              static_cast<float>(config.beta1),
                              static_cast<float>(config.beta2),
                              static_cast<float>(config.eps),
                              static_cast<float>(config.weightDecay),
                              static_cast<float>(config.clipNorm),
                              static_cast<float>(step),
                              static_cast<float>(1.0 / microBatches)};
  CallArgs opt;
  opt.add(hyper.data(), {8});
  for (size_t i = 0; i < numParams; ++i)
    opt.add(model.param(i), params[i].shape);
  for (size_t i = 0; i < numParams; ++i)
    opt.addDescriptor(accDesc[i].data(), params[i].shape.size());
  for (size_t i = 0; i < numParams; ++i)
    opt.add(m[i], params[i].shape);
  for (size_t i = 0; i < numParams; ++i)
    opt.add(v[i], params[i].shape);
  Results stats(train.optimizerStep.results);
  optimizerFn(opt.packed(stats.words.data()));
  float gradNorm = stats.data(0)[0], clipScale = stats.data(0)[1];
  std::free(stats.allocated(0));
  freeAcc();
  out->loss = lossSum / static_cast<double>(microBatches);
  out->lr = lr;
  out->gradNorm = gradNorm;
  out->clipScale = clipScale;
  if (!std::isfinite(gradNorm))
    return Status::error("step " + std::to_string(step) +
                         ": the gradient norm is not finite; the parameters "
                         "are no longer usable (resume from a checkpoint "
                         "with a smaller --lr or --clip)");
  return Status::success();
}

//===----------------------------------------------------------------------===//
// Checkpoints
//===----------------------------------------------------------------------===//

std::string modelIdentity(const Model &model) {
  const Manifest &man = model.manifest();
  std::string text = json::write(man.config, -1, true);
  for (const TensorSpec &p : man.params)
    text += ";" + p.name + st::shapeString(p.shape);
  return hex64(fnv1a(kFnvBasis, text.data(), text.size()));
}

namespace {

struct CheckpointTensor {
  std::string name;
  const float *data;
  const TensorSpec *spec;
};

std::vector<CheckpointTensor> checkpointTensors(Trainer &t) {
  std::vector<CheckpointTensor> out;
  for (size_t i = 0; i < t.numParams(); ++i) {
    const TensorSpec &p = t.paramSpec(i);
    out.push_back({"param." + p.name, t.param(i), &p});
    out.push_back({"adam_m." + p.name, t.moment1(i), &p});
    out.push_back({"adam_v." + p.name, t.moment2(i), &p});
  }
  std::sort(out.begin(), out.end(),
            [](const CheckpointTensor &a, const CheckpointTensor &b) {
              return a.name < b.name;
            });
  return out;
}

} // namespace

Status saveCheckpoint(const std::string &path, Trainer &trainer,
                      const CheckpointInfo &info) {
  std::vector<CheckpointTensor> tensors = checkpointTensors(trainer);
  uint64_t checksum = kFnvBasis, dataBytes = 0;
  for (const CheckpointTensor &t : tensors) {
    size_t bytes = t.spec->numel() * sizeof(float);
    checksum = fnv1a(checksum, t.data, bytes);
    dataBytes += bytes;
  }
  json::Value meta = json::Value::object();
  std::map<std::string, std::string> fields = info.fields;
  fields["format"] = kCheckpointFormat;
  fields["version"] = "1";
  fields["step"] = std::to_string(info.step);
  fields["model"] = modelIdentity(trainer.modelRef());
  fields["checksum"] = hex64(checksum);
  fields["data_bytes"] = std::to_string(dataBytes);
  for (const auto &[k, v] : fields)
    meta.set(k, json::Value::string(v));
  json::Value header = json::Value::object();
  header.set("__metadata__", std::move(meta));
  uint64_t offset = 0;
  for (const CheckpointTensor &t : tensors) {
    std::vector<json::Value> shape;
    for (int64_t d : t.spec->shape)
      shape.push_back(json::Value::integer(d));
    uint64_t bytes = t.spec->numel() * sizeof(float);
    json::Value entry = json::Value::object();
    entry.set("dtype", json::Value::string("F32"));
    entry.set("shape", json::Value::array(std::move(shape)));
    entry.set(
        "data_offsets",
        json::Value::array(
            {json::Value::integer(static_cast<int64_t>(offset)),
             json::Value::integer(static_cast<int64_t>(offset + bytes))}));
    header.set(t.name, std::move(entry));
    offset += bytes;
  }
  std::string headerText = json::write(header, -1, true);
  while (headerText.size() % 8)
    headerText += ' ';
  uint8_t len[8];
  for (int i = 0; i < 8; ++i)
    len[i] = static_cast<uint8_t>(uint64_t(headerText.size()) >> (8 * i));

  const char *kill = std::getenv("GECKO_TRAIN_TEST_KILL_IN_CHECKPOINT");
  bool dieHalfway = kill && std::to_string(info.step) == kill;
  AtomicFile file;
  if (Status s = file.open(path); !s)
    return s;
  file.append(len, 8);
  file.append(headerText.data(), headerText.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (dieHalfway && i == tensors.size() / 2) {
      std::fflush(nullptr);
      std::raise(SIGKILL);
    }
    file.append(tensors[i].data, tensors[i].spec->numel() * sizeof(float));
  }
  return file.commit();
}

Status loadCheckpoint(const std::string &path, Trainer &trainer,
                      CheckpointInfo *info) {
  std::unique_ptr<st::File> file;
  if (Status s = st::File::open(path, &file); !s)
    return Status::error("checkpoint " + s.message() +
                         " (truncated or not a checkpoint)");
  const std::map<std::string, std::string> &meta = file->metadata();
  auto field = [&](const char *key) -> std::string {
    auto it = meta.find(key);
    return it == meta.end() ? std::string() : it->second;
  };
  if (field("format") != kCheckpointFormat || field("version") != "1")
    return Status::error("checkpoint " + path +
                         ": not a gecko training checkpoint (metadata "
                         "format/version)");
  std::string identity = modelIdentity(trainer.modelRef());
  if (field("model") != identity)
    return Status::error("checkpoint " + path +
                         " belongs to another model (model identity " +
                         field("model") + ", this artifact " + identity + ")");
  int64_t step = 0, dataBytes = 0;
  if (!parseI64(field("step"), &step) || step < 0 ||
      !parseI64(field("data_bytes"), &dataBytes))
    return Status::error("checkpoint " + path +
                         ": bad 'step' or 'data_bytes' metadata");
  std::vector<CheckpointTensor> want = checkpointTensors(trainer);
  std::vector<std::string> problems;
  uint64_t checksum = kFnvBasis, bytes = 0;
  for (const st::TensorView &t : file->tensors()) {
    checksum = fnv1a(checksum, t.data, t.bytes);
    bytes += t.bytes;
  }
  if (static_cast<int64_t>(bytes) != dataBytes)
    problems.push_back("holds " + std::to_string(bytes) +
                       " bytes of tensor data, the metadata says " +
                       std::to_string(dataBytes));
  else if (hex64(checksum) != field("checksum"))
    problems.push_back("checksum mismatch (" + hex64(checksum) + " vs " +
                       field("checksum") + ": the data is corrupted)");
  for (const CheckpointTensor &w : want) {
    const st::TensorView *t = file->find(w.name);
    if (!t)
      problems.push_back("missing tensor '" + w.name + "'");
    else if (t->dtype != st::DType::F32 || t->shape != w.spec->shape)
      problems.push_back("tensor '" + w.name + "' is " +
                         st::dtypeName(t->dtype) + " " +
                         st::shapeString(t->shape) + ", expected F32 " +
                         st::shapeString(w.spec->shape));
  }
  if (file->tensors().size() != want.size() && problems.empty())
    problems.push_back("holds " + std::to_string(file->tensors().size()) +
                       " tensors, expected " + std::to_string(want.size()));
  if (!problems.empty()) {
    std::string text = "checkpoint " + path + " is unusable:";
    for (const std::string &p : problems)
      text += "\n  " + p;
    return Status::error(text);
  }
  for (const CheckpointTensor &w : want) {
    const st::TensorView *t = file->find(w.name);
    std::memcpy(const_cast<float *>(w.data), t->data, t->bytes);
  }
  info->step = step;
  info->fields.clear();
  for (const auto &[k, v] : meta)
    info->fields[k] = v;
  return Status::success();
}

std::string latestCheckpoint(const std::string &dir) {
  DIR *d = opendir(dir.c_str());
  if (!d)
    return "";
  std::string best;
  int64_t bestStep = -1;
  while (dirent *e = readdir(d)) {
    std::string name = e->d_name;
    const std::string pre = "step-", post = ".safetensors";
    if (name.size() <= pre.size() + post.size() ||
        name.compare(0, pre.size(), pre) != 0 ||
        name.compare(name.size() - post.size(), post.size(), post) != 0)
      continue;
    std::string digits =
        name.substr(pre.size(), name.size() - pre.size() - post.size());
    int64_t step = 0;
    if (!std::all_of(digits.begin(), digits.end(), ::isdigit) ||
        !parseI64(digits, &step))
      continue;
    if (step > bestStep) {
      bestStep = step;
      best = dir + "/" + name;
    }
  }
  closedir(d);
  return best;
}

} // namespace gecko::rt
