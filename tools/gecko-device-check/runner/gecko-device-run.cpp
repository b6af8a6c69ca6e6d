//===- gecko-device-run.cpp - The "run" half of the device check ----------===//
//
// Plain C++ (no MLIR, no LLVM; builds on the GPU machine from
// tools/gecko-device-check/standalone): reads a directory written by
// gecko-device-prepare, loads libgecko_cuda_runtime.so RTLD_GLOBAL, then per
// case dlopens the kernel library (its constructor loads the fatbin with
// mgpuModuleLoad), calls _gecko_packed_kernel on the inputs, compares every
// result with the expected values (gecko-conform's metric
// |a - b| / max(1, |b|)) and times the call (wall clock, median) and its
// kernels (CUDA events around each launch, summed per call).
//
// The executable exports mgpuModuleLoad(JIT), mgpuLaunchKernel and
// mgpuStreamSynchronize, which take precedence over the runtime's for the
// kernel libraries: they record module-load failures, launch and kernel
// errors (a failed case says why instead of comparing garbage) and the
// kernel times.
//
// Exit status: 0 every case passed, 1 a case failed, 2 usage or invalid
// prepared data, 3 no CUDA driver / GPU.
//
//===----------------------------------------------------------------------===//

#include "Manifest.h"
#include "TensorFile.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

using namespace gecko::devcheck;

namespace {

// --- The CUDA driver, for events and error codes -------------------------

using CUresult = int;
struct Cuda {
  CUresult (*cuInit)(unsigned) = nullptr;
  CUresult (*cuDriverGetVersion)(int *) = nullptr;
  CUresult (*cuDeviceGetCount)(int *) = nullptr;
  CUresult (*cuDeviceGet)(int *, int) = nullptr;
  CUresult (*cuDeviceGetName)(char *, int, int) = nullptr;
  CUresult (*cuDevicePrimaryCtxRetain)(void **, int) = nullptr;
  CUresult (*cuCtxPushCurrent)(void *) = nullptr;
  CUresult (*cuLaunchKernel)(void *, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, void *, void **,
                             void **) = nullptr;
  CUresult (*cuStreamSynchronize)(void *) = nullptr;
  CUresult (*cuEventCreate)(void **, unsigned) = nullptr;
  CUresult (*cuEventRecord)(void *, void *) = nullptr;
  CUresult (*cuEventSynchronize)(void *) = nullptr;
  CUresult (*cuEventElapsedTime)(float *, void *, void *) = nullptr;
  CUresult (*cuGetErrorName)(CUresult, const char **) = nullptr;
};

using LaunchFn = void (*)(void *, intptr_t, intptr_t, intptr_t, intptr_t,
                          intptr_t, intptr_t, int32_t, void *, void **, void **,
                          size_t);
using ModuleLoadFn = void *(*)(void *, size_t);
using ModuleLoadJitFn = void *(*)(void *, int);
using StreamSyncFn = void (*)(void *);
using MemFreeFn = void (*)(void *, void *);

/// What the interposed entry points see.
struct State {
  Cuda cuda;
  bool haveCuda = false;
  ModuleLoadFn moduleLoad = nullptr;
  ModuleLoadJitFn moduleLoadJit = nullptr;
  LaunchFn launch = nullptr;
  StreamSyncFn streamSync = nullptr;
  MemFreeFn memFree = nullptr;
  void *start = nullptr, *stop = nullptr;
  bool timeKernels = false;
  long launches = 0;
  double kernelMs = 0;
  std::vector<std::string> errors;
} g;

std::string errorName(CUresult r) {
  const char *name = nullptr;
  if (g.cuda.cuGetErrorName)
    g.cuda.cuGetErrorName(r, &name);
  return name ? name : "CUDA error " + std::to_string(r);
}

void recordError(const std::string &message) {
  if (g.errors.size() < 8)
    g.errors.push_back(message);
}

template <typename Fn>
bool resolve(void *lib, const char *name, Fn &slot, std::string &missing) {
  slot = reinterpret_cast<Fn>(dlsym(lib, name));
  if (!slot && missing.empty())
    missing = name;
  return slot != nullptr;
}

/// Opens the driver the way the runtime does (GECKO_CUDA_DRIVER overrides
/// libcuda.so.1), makes device 0's primary context current and creates the
/// timing events; on failure says why.
bool openCuda(std::string &device, std::string &error) {
  const char *name = std::getenv("GECKO_CUDA_DRIVER");
  if (!name || !*name)
    name = "libcuda.so.1";
  void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *why = dlerror();
    error = std::string("CUDA driver library ") + name + " not found (" +
            (why ? why : "dlopen failed") + ")";
    return false;
  }
  Cuda &c = g.cuda;
  std::string missing;
  resolve(lib, "cuInit", c.cuInit, missing);
  resolve(lib, "cuDriverGetVersion", c.cuDriverGetVersion, missing);
  resolve(lib, "cuDeviceGetCount", c.cuDeviceGetCount, missing);
  resolve(lib, "cuDeviceGet", c.cuDeviceGet, missing);
  resolve(lib, "cuDeviceGetName", c.cuDeviceGetName, missing);
  resolve(lib, "cuDevicePrimaryCtxRetain", c.cuDevicePrimaryCtxRetain, missing);
  resolve(lib, "cuCtxPushCurrent_v2", c.cuCtxPushCurrent, missing);
  resolve(lib, "cuLaunchKernel", c.cuLaunchKernel, missing);
  resolve(lib, "cuStreamSynchronize", c.cuStreamSynchronize, missing);
  resolve(lib, "cuEventCreate", c.cuEventCreate, missing);
  resolve(lib, "cuEventRecord", c.cuEventRecord, missing);
  resolve(lib, "cuEventSynchronize", c.cuEventSynchronize, missing);
  resolve(lib, "cuGetErrorName", c.cuGetErrorName, missing);
  std::string optional;
  if (!resolve(lib, "cuEventElapsedTime_v2", c.cuEventElapsedTime, optional))
    resolve(lib, "cuEventElapsedTime", c.cuEventElapsedTime, missing);
  if (!missing.empty()) {
    error = std::string("CUDA driver library ") + name + " lacks " + missing;
    return false;
  }
  if (CUresult r = c.cuInit(0)) {
    error = "cuInit failed: " + errorName(r) + " (no usable GPU?)";
    return false;
  }
  int count = 0;
  if (CUresult r = c.cuDeviceGetCount(&count)) {
    error = "cuDeviceGetCount failed: " + errorName(r);
    return false;
  }
  if (count < 1) {
    error = "the CUDA driver sees no GPU";
    return false;
  }
  int dev = 0, version = 0;
  char deviceName[256] = "?";
  void *context = nullptr;
  if (CUresult r = c.cuDeviceGet(&dev, 0)) {
    error = "cuDeviceGet failed: " + errorName(r);
    return false;
  }
  c.cuDeviceGetName(deviceName, sizeof deviceName, dev);
  c.cuDriverGetVersion(&version);
  if (CUresult r = c.cuDevicePrimaryCtxRetain(&context, dev)) {
    error = "cuDevicePrimaryCtxRetain failed: " + errorName(r);
    return false;
  }
  if (CUresult r = c.cuCtxPushCurrent(context)) {
    error = "cuCtxPushCurrent failed: " + errorName(r);
    return false;
  }
  if (c.cuEventCreate(&g.start, 0) || c.cuEventCreate(&g.stop, 0))
    g.start = g.stop = nullptr; // kernel times unavailable
  device = std::string(deviceName) + ", " + std::to_string(count) +
           " GPU(s), CUDA driver " + std::to_string(version / 1000) + "." +
           std::to_string(version % 1000 / 10);
  g.haveCuda = true;
  return true;
}

} // namespace

// --- Interposed runtime entry points (exported by this executable) -------

#define GECKO_EXPORT extern "C" __attribute__((visibility("default")))

GECKO_EXPORT void *mgpuModuleLoad(void *data, size_t size) {
  void *module = g.moduleLoad ? g.moduleLoad(data, size) : nullptr;
  if (!module)
    recordError("mgpuModuleLoad failed: the driver did not load the kernel "
                "image (see the runtime's message)");
  return module;
}

GECKO_EXPORT void *mgpuModuleLoadJIT(void *data, int optLevel) {
  void *module = g.moduleLoadJit ? g.moduleLoadJit(data, optLevel) : nullptr;
  if (!module)
    recordError("mgpuModuleLoadJIT failed: the driver did not JIT the PTX "
                "(see the runtime's message)");
  return module;
}

GECKO_EXPORT void mgpuLaunchKernel(void *function, intptr_t gridX,
                                   intptr_t gridY, intptr_t gridZ,
                                   intptr_t blockX, intptr_t blockY,
                                   intptr_t blockZ, int32_t smem, void *stream,
                                   void **params, void **extra,
                                   size_t paramsCount) {
  ++g.launches;
  if (!g.haveCuda) {
    if (g.launch)
      g.launch(function, gridX, gridY, gridZ, blockX, blockY, blockZ, smem,
               stream, params, extra, paramsCount);
    return;
  }
  if (!function) {
    recordError("kernel launch without a function (mgpuModuleGetFunction "
                "failed)");
    return;
  }
  bool timed = g.timeKernels && g.start && g.stop;
  if (timed)
    g.cuda.cuEventRecord(g.start, stream);
  // The runtime's mgpuLaunchKernel, with the result checked.
  if (CUresult r =
          g.cuda.cuLaunchKernel(function, gridX, gridY, gridZ, blockX, blockY,
                                blockZ, smem, stream, params, extra)) {
    recordError("cuLaunchKernel failed: " + errorName(r) + " (grid " +
                std::to_string(gridX) + "x" + std::to_string(gridY) + "x" +
                std::to_string(gridZ) + ", block " + std::to_string(blockX) +
                ", " + std::to_string(smem) + " B dynamic shared memory)");
    return;
  }
  if (!timed)
    return;
  g.cuda.cuEventRecord(g.stop, stream);
  if (CUresult r = g.cuda.cuEventSynchronize(g.stop)) {
    recordError("kernel failed: " + errorName(r));
    return;
  }
  float ms = 0;
  if (g.cuda.cuEventElapsedTime(&ms, g.start, g.stop) == 0)
    g.kernelMs += ms;
}

GECKO_EXPORT void mgpuStreamSynchronize(void *stream) {
  if (!g.haveCuda) {
    if (g.streamSync)
      g.streamSync(stream);
    return;
  }
  if (CUresult r = g.cuda.cuStreamSynchronize(stream))
    recordError("kernel failed: cuStreamSynchronize: " + errorName(r));
}

namespace {

// --- Options --------------------------------------------------------------

struct Options {
  std::string dir;
  std::string runtime;
  std::string tsv;
  std::string inputsDir;
  std::vector<std::string> filters;
  bool dryRun = false;
  double minTime = 0.5;
  int maxRuns = 20;
  int kernelRuns = 3;
  double budget = 170;
};

void usage(FILE *out) {
  std::fprintf(
      out,
      "usage: gecko-device-run [options] PREPARED_DIR\n"
      "  --dry-run          validate the manifest, the data files and the\n"
      "                     random inputs; no GPU needed\n"
      "  --runtime=PATH     libgecko_cuda_runtime.so (default: next to this\n"
      "                     executable, or ../lib/)\n"
      "  --tsv=PATH         one line per case (for the table script)\n"
      "  --inputs-dir=DIR   write each random case's inputs as\n"
      "                     DIR/<case>.inputs.safetensors (for PyTorch)\n"
      "  --filter=TEXT      only cases whose name contains TEXT (repeatable)\n"
      "  --min-time=S       time each case for at least S seconds (0.5)\n"
      "  --max-runs=N       at most N timed calls per case (20)\n"
      "  --kernel-runs=N    calls with per-kernel CUDA events (3)\n"
      "  --budget=S         skip the cases left after S seconds (170)\n");
}

bool parseNumber(const std::string &text, double &out) {
  char *end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return !text.empty() && *end == 0 && std::isfinite(out) && out >= 0;
}

bool parseOptions(int argc, char **argv, Options &o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char *prefix, std::string &out) {
      size_t n = std::strlen(prefix);
      if (a.compare(0, n, prefix) != 0)
        return false;
      out = a.substr(n);
      return true;
    };
    std::string v;
    double d;
    if (a == "--dry-run")
      o.dryRun = true;
    else if (a == "-h" || a == "--help") {
      usage(stdout);
      std::exit(0);
    } else if (value("--runtime=", o.runtime) || value("--tsv=", o.tsv) ||
               value("--inputs-dir=", o.inputsDir))
      continue;
    else if (value("--filter=", v))
      o.filters.push_back(v);
    else if (value("--min-time=", v) && parseNumber(v, d))
      o.minTime = d;
    else if (value("--budget=", v) && parseNumber(v, d))
      o.budget = d;
    else if (value("--max-runs=", v) && parseNumber(v, d) && d >= 1)
      o.maxRuns = static_cast<int>(d);
    else if (value("--kernel-runs=", v) && parseNumber(v, d))
      o.kernelRuns = static_cast<int>(d);
    else if (!a.empty() && a[0] != '-' && o.dir.empty())
      o.dir = a;
    else {
      std::fprintf(stderr, "gecko-device-run: bad argument '%s'\n", a.c_str());
      return false;
    }
  }
  if (o.dir.empty()) {
    std::fprintf(stderr, "gecko-device-run: no prepared directory given\n");
    return false;
  }
  return true;
}

std::string executableDir() {
  char buffer[4096];
  ssize_t n = readlink("/proc/self/exe", buffer, sizeof buffer - 1);
  if (n <= 0)
    return ".";
  std::string path(buffer, n);
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string findRuntime(const Options &o) {
  if (!o.runtime.empty())
    return o.runtime;
  std::string dir = executableDir();
  for (std::string candidate : {dir + "/libgecko_cuda_runtime.so",
                                dir + "/../lib/libgecko_cuda_runtime.so"})
    if (access(candidate.c_str(), R_OK) == 0)
      return candidate;
  return dir + "/libgecko_cuda_runtime.so";
}

// --- Comparison -------------------------------------------------------------

struct Comparison {
  double error = 0, maxAbs = 0;
  std::string reason;
};

/// Element `i` of a kernel result buffer as a double.
double kernelValue(const std::string &dtype, const uint8_t *p, int64_t i) {
  if (dtype == "f32" || dtype == "c64") {
    float f;
    std::memcpy(&f, p + 4 * i, 4);
    return f;
  }
  if (dtype == "i64") {
    int64_t v;
    std::memcpy(&v, p + 8 * i, 8);
    return static_cast<double>(v);
  }
  if (dtype == "i1")
    return p[i] ? 1.0 : 0.0;
  uint16_t bits;
  std::memcpy(&bits, p + 2 * i, 2);
  return dtype == "f16" ? decodeF16(bits) : decodeBF16(bits);
}

/// gecko-conform's metric (tools/gecko-conform/Compare.cpp).
Comparison compare(const std::string &dtype, const std::vector<uint8_t> &actual,
                   const StoredTensor &expected) {
  Comparison c;
  bool exact = expected.dtype == "I64" || expected.dtype == "I32" ||
               expected.dtype == "BOOL";
  int64_t n = expected.numel();
  for (int64_t i = 0; i < n; ++i) {
    double a = kernelValue(dtype, actual.data(), i), b = expected.at(i);
    bool finiteA = std::isfinite(a), finiteB = std::isfinite(b);
    if (!finiteA || !finiteB) {
      if (finiteA != finiteB || !(a == b)) {
        c.error = INFINITY;
        c.reason = "element " + std::to_string(i) + " is " + std::to_string(a) +
                   ", expected " + std::to_string(b);
        return c;
      }
      continue;
    }
    if (exact && a != b) {
      c.error = INFINITY;
      c.reason = "integer element " + std::to_string(i) + " is " +
                 std::to_string(a) + ", expected " + std::to_string(b);
      return c;
    }
    double diff = std::fabs(a - b);
    c.maxAbs = std::max(c.maxAbs, diff);
    c.error = std::max(c.error, diff / std::max(1.0, std::fabs(b)));
  }
  return c;
}

// --- Running a case ---------------------------------------------------------

using PackedFn = void (*)(void **);

struct Call {
  /// The kernel's C interface: memref descriptors of the arguments, result
  /// storage, the packed argument array.
  std::vector<std::vector<int64_t>> descriptors;
  std::vector<void *> descriptorPointers;
  std::vector<int64_t> scalars;
  std::vector<int64_t> results;
  void *resultPointer = nullptr;
  std::vector<void *> packed;
};

size_t descriptorWords(size_t rank) { return 3 + 2 * rank; }

void prepareCall(const CaseSpec &spec, LoadedCase &data, Call &call) {
  size_t n = spec.args.size();
  call.descriptors.assign(n, {});
  call.descriptorPointers.assign(n, nullptr);
  call.scalars.assign(n, 0);
  for (size_t i = 0; i < n; ++i) {
    const ArgSpec &arg = spec.args[i];
    if (arg.scalar) {
      call.scalars[i] = arg.value;
      continue;
    }
    std::vector<int64_t> &d = call.descriptors[i];
    size_t rank = arg.shape.size();
    d.assign(descriptorWords(rank), 0);
    d[0] = d[1] = reinterpret_cast<intptr_t>(data.argBytes[i].data());
    int64_t stride = 1;
    for (size_t k = rank; k-- > 0;) {
      d[3 + k] = arg.shape[k];
      d[3 + rank + k] = stride;
      stride *= arg.shape[k];
    }
    call.descriptorPointers[i] = d.data();
  }
  size_t words = 0;
  for (const ResultSpec &r : spec.results)
    words += descriptorWords(r.shape.size());
  call.results.assign(words, 0);
  call.resultPointer = call.results.data();
  call.packed.assign(1, &call.resultPointer);
  for (size_t i = 0; i < n; ++i)
    call.packed.push_back(
        spec.args[i].scalar ? static_cast<void *>(&call.scalars[i])
                            : static_cast<void *>(&call.descriptorPointers[i]));
}

/// Copies the results out of their (managed) buffers when `out` is given,
/// then frees every buffer the call returned.
void collectResults(const CaseSpec &spec, const LoadedCase &data, Call &call,
                    std::vector<std::vector<uint8_t>> *out) {
  std::set<void *> freed;
  for (const std::vector<uint8_t> &bytes : data.argBytes)
    freed.insert(const_cast<uint8_t *>(bytes.data()));
  size_t word = 0;
  for (size_t r = 0; r < spec.results.size(); ++r) {
    const ResultSpec &result = spec.results[r];
    size_t rank = result.shape.size();
    const int64_t *d = call.results.data() + word;
    word += descriptorWords(rank);
    size_t size = kernelDtypeSize(result.dtype);
    int64_t count = 1;
    for (int64_t s : result.shape)
      count *= s;
    if (out) {
      std::vector<uint8_t> bytes(static_cast<size_t>(count) * size, 0);
      auto *aligned = reinterpret_cast<const uint8_t *>(d[1]);
      std::vector<int64_t> index(rank, 0);
      for (int64_t flat = 0; aligned && flat < count; ++flat) {
        int64_t position = d[2];
        for (size_t k = 0; k < rank; ++k)
          position += index[k] * d[3 + rank + k];
        std::memcpy(bytes.data() + flat * size, aligned + position * size,
                    size);
        for (size_t k = rank; k-- > 0;) {
          if (++index[k] < result.shape[k])
            break;
          index[k] = 0;
        }
      }
      out->push_back(std::move(bytes));
    }
    auto *allocated = reinterpret_cast<void *>(d[0]);
    if (allocated && freed.insert(allocated).second && g.memFree)
      g.memFree(allocated, nullptr);
  }
}

double nowSeconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double median(std::vector<double> v) {
  if (v.empty())
    return NAN;
  std::sort(v.begin(), v.end());
  size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

struct Outcome {
  std::string status = "FAIL";
  double error = NAN, maxAbs = NAN, wallMs = NAN, kernelMs = NAN;
  long launches = 0;
  int runs = 0;
  std::string note;
};

std::string formatNumber(double v, const char *format = "%.3g") {
  if (std::isnan(v))
    return "-";
  if (std::isinf(v))
    return "inf";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, v);
  return buffer;
}

Outcome runCase(const Options &o, const std::string &dir, const CaseSpec &spec,
                LoadedCase &data) {
  Outcome out;
  g.errors.clear();
  std::string path = spec.library.empty() || spec.library[0] == '/'
                         ? spec.library
                         : dir + "/" + spec.library;
  void *library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char *why = dlerror();
    out.note = std::string("dlopen failed: ") + (why ? why : "?");
    return out;
  }
  auto packed = reinterpret_cast<PackedFn>(dlsym(library, spec.symbol.c_str()));
  if (!packed) {
    out.note = "no symbol " + spec.symbol + " in " + spec.library;
    dlclose(library);
    return out;
  }
  if (!g.errors.empty()) {
    out.note = g.errors.front();
    dlclose(library);
    return out;
  }

  // First call: results and kernel time.
  Call call;
  prepareCall(spec, data, call);
  g.launches = 0;
  g.kernelMs = 0;
  g.timeKernels = true;
  double t0 = nowSeconds();
  packed(call.packed.data());
  double firstMs = 1e3 * (nowSeconds() - t0);
  g.timeKernels = false;
  out.launches = g.launches;
  std::vector<std::vector<uint8_t>> values;
  collectResults(spec, data, call, &values);
  if (!g.errors.empty()) {
    out.note = g.errors.front();
    dlclose(library);
    return out;
  }
  std::vector<double> kernelTimes = {g.kernelMs};

  // Compare.
  double worst = 0, worstAbs = 0;
  std::string worstKey, reason;
  for (size_t r = 0; r < spec.results.size(); ++r) {
    const ResultSpec &result = spec.results[r];
    if (!result.compare)
      continue;
    Comparison c =
        compare(result.dtype, values[r], data.caseFile.tensors.at(result.key));
    worstAbs = std::max(worstAbs, c.maxAbs);
    if (c.error >= worst) {
      worst = c.error;
      worstKey = result.key;
      reason = c.reason;
    }
  }
  out.error = worst;
  out.maxAbs = worstAbs;
  bool pass = worst <= spec.tolerance;
  out.status = pass ? "PASS" : "FAIL";
  if (!pass)
    out.note = "worst " + worstKey + (reason.empty() ? "" : ": " + reason);

  // Timing: wall clock per call without events, then kernel times.
  std::vector<double> wall;
  if (firstMs > 10000) {
    wall.push_back(firstMs);
    out.note += (out.note.empty() ? "" : "; ") +
                std::string("one call only (first call > 10 s)");
  } else {
    double begin = nowSeconds();
    while (static_cast<int>(wall.size()) < o.maxRuns &&
           (wall.size() < 3 || nowSeconds() - begin < o.minTime)) {
      Call timed;
      prepareCall(spec, data, timed);
      double s = nowSeconds();
      packed(timed.packed.data());
      wall.push_back(1e3 * (nowSeconds() - s));
      collectResults(spec, data, timed, nullptr);
    }
    for (int k = 1; k < o.kernelRuns; ++k) {
      Call timed;
      prepareCall(spec, data, timed);
      g.kernelMs = 0;
      g.timeKernels = true;
      packed(timed.packed.data());
      g.timeKernels = false;
      kernelTimes.push_back(g.kernelMs);
      collectResults(spec, data, timed, nullptr);
    }
  }
  if (!g.errors.empty()) {
    out.status = "FAIL";
    out.note = g.errors.front();
  }
  out.runs = static_cast<int>(wall.size());
  out.wallMs = median(wall);
  out.kernelMs = g.start ? median(kernelTimes) : NAN;
  dlclose(library);
  return out;
}

bool selected(const Options &o, const std::string &name) {
  if (o.filters.empty())
    return true;
  for (const std::string &f : o.filters)
    if (name.find(f) != std::string::npos)
      return true;
  return false;
}

} // namespace

int main(int argc, char **argv) {
  Options o;
  if (!parseOptions(argc, argv, o)) {
    usage(stderr);
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  Manifest manifest;
  std::string error;
  if (!readManifest(o.dir, manifest, error)) {
    std::fprintf(stderr, "gecko-device-run: %s\n", error.c_str());
    return 2;
  }

  std::string device;
  if (!o.dryRun) {
    // The driver first: a machine without it gets one clear message.
    if (!openCuda(device, error)) {
      std::fprintf(stderr, "gecko-device-run: no CUDA driver/GPU: %s\n",
                   error.c_str());
      return 3;
    }
    std::string runtime = findRuntime(o);
    void *lib = dlopen(runtime.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (!lib) {
      const char *why = dlerror();
      std::fprintf(stderr, "gecko-device-run: cannot load %s: %s\n",
                   runtime.c_str(), why ? why : "?");
      return 2;
    }
    g.moduleLoad = reinterpret_cast<ModuleLoadFn>(dlsym(lib, "mgpuModuleLoad"));
    g.moduleLoadJit =
        reinterpret_cast<ModuleLoadJitFn>(dlsym(lib, "mgpuModuleLoadJIT"));
    g.launch = reinterpret_cast<LaunchFn>(dlsym(lib, "mgpuLaunchKernel"));
    g.streamSync =
        reinterpret_cast<StreamSyncFn>(dlsym(lib, "mgpuStreamSynchronize"));
    g.memFree = reinterpret_cast<MemFreeFn>(dlsym(lib, "mgpuMemFree"));
    if (!g.moduleLoad || !g.launch || !g.memFree) {
      std::fprintf(stderr,
                   "gecko-device-run: %s lacks the mgpu* entry points\n",
                   runtime.c_str());
      return 2;
    }
    std::printf("device: %s\nruntime: %s\nprepared: %s (%s, %s, %s)\n",
                device.c_str(), runtime.c_str(), o.dir.c_str(),
                manifest.chip.c_str(), manifest.features.c_str(),
                manifest.binaryFormat.c_str());
  }

  FILE *tsv = nullptr;
  if (!o.tsv.empty()) {
    tsv = std::fopen(o.tsv.c_str(), "w");
    if (!tsv) {
      std::fprintf(stderr, "gecko-device-run: cannot write %s\n",
                   o.tsv.c_str());
      return 2;
    }
    std::fprintf(tsv, "case\torigin\top\tshape\tstatus\terr\tmax_abs\ttol\t"
                      "ours_ms\tkern_ms\tlaunches\truns\tnote\n");
    std::fflush(tsv);
  }

  double begin = nowSeconds();
  int passed = 0, failed = 0, skipped = 0, valid = 0;
  for (const CaseSpec &spec : manifest.cases) {
    if (!selected(o, spec.name))
      continue;
    LoadedCase data;
    Outcome out;
    bool loaded = loadCase(o.dir, spec, data, error);
    if (loaded && !o.inputsDir.empty() && !spec.randomInputs.empty() &&
        !writeTensorFile(o.inputsDir + "/" + spec.name + ".inputs.safetensors",
                         data.randomInputs, error))
      loaded = false;
    if (!loaded) {
      out.note = error;
    } else if (o.dryRun) {
      ++valid;
      std::printf("valid  %-36s args=%zu random=%zu results=%zu\n",
                  spec.name.c_str(), spec.args.size(), spec.randomInputs.size(),
                  spec.results.size());
      continue;
    } else if (nowSeconds() - begin > o.budget) {
      out.status = "SKIP";
      out.note = "time budget (--budget) spent";
    } else {
      out = runCase(o, o.dir, spec, data);
    }
    if (out.status == "PASS")
      ++passed;
    else if (out.status == "SKIP")
      ++skipped;
    else
      ++failed;
    if (!o.dryRun)
      std::printf("%s  %-36s err=%s (tol %s)  ours %s ms  kern %s ms  "
                  "launches %ld%s%s\n",
                  out.status.c_str(), spec.name.c_str(),
                  formatNumber(out.error, "%.2e").c_str(),
                  formatNumber(spec.tolerance, "%.0e").c_str(),
                  formatNumber(out.wallMs, "%.3f").c_str(),
                  formatNumber(out.kernelMs, "%.3f").c_str(), out.launches,
                  out.note.empty() ? "" : "  ", out.note.c_str());
    else
      std::printf("INVALID  %s  %s\n", spec.name.c_str(), out.note.c_str());
    if (tsv) {
      std::string note = out.note;
      std::replace(note.begin(), note.end(), '\t', ' ');
      std::replace(note.begin(), note.end(), '\n', ' ');
      std::fprintf(tsv, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%ld\t%d\t%s\n",
                   spec.name.c_str(), spec.origin.c_str(), spec.op.c_str(),
                   spec.shape.c_str(), out.status.c_str(),
                   formatNumber(out.error, "%.3e").c_str(),
                   formatNumber(out.maxAbs, "%.3e").c_str(),
                   formatNumber(spec.tolerance, "%.1e").c_str(),
                   formatNumber(out.wallMs, "%.4f").c_str(),
                   formatNumber(out.kernelMs, "%.4f").c_str(), out.launches,
                   out.runs, note.c_str());
      std::fflush(tsv);
    }
  }
  if (tsv)
    std::fclose(tsv);
  if (o.dryRun) {
    std::printf("dry run: %d cases valid, %d invalid\n", valid, failed);
    return failed ? 2 : 0;
  }
  std::printf("%d passed, %d failed, %d skipped (%.1f s)\n", passed, failed,
              skipped, nowSeconds() - begin);
  return failed ? 1 : 0;
}
