//===- ModelBuilder.h - gecko IR of the Gecko block and model ---*- C++ -*-===//
//
// Emits gecko-dialect IR for one GeckoBlock call (MEGA + NFFN, spec §8) and
// one whole-model call (embedding -> blocks -> output TSN -> projection,
// spec §7) from a GeckoConfig. Every parameter and every piece of carried
// state (spec §9) is an explicit function argument, every new piece of state
// a result; shapes are static, so one function describes one call shape
// (batch, length, position in the stream). docs/model/builder.md lists the
// argument and result order.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_MODEL_MODELBUILDER_H
#define GECKO_MODEL_MODELBUILDER_H

#include "gecko/Reference/Block.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <string>
#include <vector>

namespace gecko::model {

/// Config parsing (lib/Model/ModelConfig.cpp): a JSON object with the
/// reference ModelConf field names. Unknown keys, missing required keys,
/// mistyped values and dims that do not divide are errors naming the key.
llvm::Expected<ref::GeckoConfig> parseConfig(llvm::StringRef json);
llvm::Expected<ref::GeckoConfig> parseConfigFile(llvm::StringRef path);

/// The element kind of a function argument or result.
enum class ArgKind { F32, I64, I1, ComplexF32, ScalarI64 };

struct ArgInfo {
  std::string name;           // golden-style name, e.g. "mega.wz.weight"
  std::vector<int64_t> shape; // the MLIR shape (complex: without the 2)
  ArgKind kind = ArgKind::F32;
};

/// One call of a block or of the model.
struct CallSpec {
  int64_t batch = 1;
  int64_t length = 1;
  /// Tokens of the stream processed before this call (the layers'
  /// kv_count). The carried state is an argument exactly when start > 0.
  int64_t start = 0;
  /// Return the new state (streaming); false = training / one-shot call.
  bool stream = false;
  /// Block: bos_mask / segment_idx arguments (and prev_segment_idx /
  /// prev_segment_count with a non-empty cache). Model: multi-document mode
  /// (bos = tokens == bos_id, seg = cumsum(bos) + prev_seg[:, -1]).
  bool segments = false;
};

struct Signature {
  std::vector<ArgInfo> args, results;
};

/// Cache length T after `tokens` tokens (spec §9): 0, or the last C tokens
/// at a chunk boundary, else C + tokens % C (tokens % C before the first
/// full chunk).
int64_t cacheLength(int64_t tokens, int64_t chunk);

/// Why a call of spec may not be built (config, §9 call constraints), or
/// success.
llvm::Error checkCall(const ref::GeckoConfig &config, const CallSpec &spec);

/// Argument / result lists, in order (docs/model/builder.md).
llvm::Expected<Signature> blockSignature(const ref::GeckoConfig &config,
                                         const CallSpec &spec);
llvm::Expected<Signature> modelSignature(const ref::GeckoConfig &config,
                                         const CallSpec &spec);

/// Creates the ops of one call at the builder's insertion point from `args`
/// (typed as the signature says) and returns the results in signature order.
/// Usable as an exec::KernelBody.
llvm::Expected<llvm::SmallVector<mlir::Value>>
buildBlockBody(mlir::OpBuilder &builder, mlir::Location loc,
               const ref::GeckoConfig &config, const CallSpec &spec,
               mlir::ValueRange args);
llvm::Expected<llvm::SmallVector<mlir::Value>>
buildModelBody(mlir::OpBuilder &builder, mlir::Location loc,
               const ref::GeckoConfig &config, const CallSpec &spec,
               mlir::ValueRange args);

/// The MLIR type of a signature entry.
mlir::Type argType(mlir::OpBuilder &builder, const ArgInfo &arg);

/// `func.func @name` with the signature around the body, appended to
/// `module`; argument names are recorded as `gecko.name` arg attributes.
llvm::Expected<mlir::func::FuncOp>
buildBlockFunction(mlir::ModuleOp module, llvm::StringRef name,
                   const ref::GeckoConfig &config, const CallSpec &spec);
llvm::Expected<mlir::func::FuncOp>
buildModelFunction(mlir::ModuleOp module, llvm::StringRef name,
                   const ref::GeckoConfig &config, const CallSpec &spec);

/// The decode step (lib/Model/DecodeBuilder.cpp, docs/model/builder.md):
/// one token per row at ANY stream position with one function. Arguments:
/// `tokens (B,1)`, the parameters, `kv_count` (the position, a runtime
/// scalar), the state arguments of the chunk call at start C (the boundary
/// state: caches of the last full chunk, memory; all zero before the first
/// full chunk), then `decodeState(..., "partial.")`: per layer the rotated
/// keys / values of the r = kv_count % C tokens since the boundary in
/// buffers of capacity C-1 and the TSN / CEMA state after them, the output
/// TSN state and (multi-document) the segment ids of those tokens. At
/// r = 0 the TSN / CEMA / output-TSN state is taken from the boundary state
/// and the partial buffers are ignored. Results: `logits (B,1,V)` and the
/// partial state after the token (`partial_out.*`; the token is written to
/// slot min(r, C-2): at r = C-1 the chunk is complete and the caller runs
/// the chunk call instead of keeping it). Needs chunk_size >= 2.
std::vector<ArgInfo> decodeState(const ref::GeckoConfig &config, int64_t batch,
                                 bool segments, llvm::StringRef prefix);
llvm::Expected<Signature> decodeSignature(const ref::GeckoConfig &config,
                                          int64_t batch, bool segments);
llvm::Expected<llvm::SmallVector<mlir::Value>>
buildDecodeBody(mlir::OpBuilder &builder, mlir::Location loc,
                const ref::GeckoConfig &config, int64_t batch, bool segments,
                mlir::ValueRange args);
llvm::Expected<mlir::func::FuncOp>
buildDecodeFunction(mlir::ModuleOp module, llvm::StringRef name,
                    const ref::GeckoConfig &config, int64_t batch,
                    bool segments);

/// Hook for the reverse-mode pass: given a forward function built above,
/// adds `<name>_backward` to its module (taking the forward's arguments and
/// the upstream gradients of its results, returning the gradients of its
/// float arguments). Unset until the autodiff pass registers itself.
using BackwardBuilder = std::function<llvm::Expected<mlir::func::FuncOp>(
    mlir::func::FuncOp forward)>;
void setBackwardBuilder(BackwardBuilder builder);
/// The registered backward builder, or an error saying none is.
llvm::Expected<mlir::func::FuncOp> buildBackward(mlir::func::FuncOp forward);

} // namespace gecko::model

#endif // GECKO_MODEL_MODELBUILDER_H
