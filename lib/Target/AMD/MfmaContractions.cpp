//===- MfmaContractions.cpp - Tile contractions on MFMA (gfx9) ------------===//
//
// gecko-rocdl-mfma: the f16/bf16 tile contractions of bufferized gecko IR
// (chunk_attention's tile matmuls; any 2-D contraction with f32
// accumulation, see TileContractions.h) run on amdgpu.mfma 16x16x16, one
// wave (64 lanes) per 16x16 output tile: v_mfma_f32_16x16x16_f16 /
// v_mfma_f32_16x16x16_bf16 (gfx942) / v_mfma_f32_16x16x16bf16_1k (gfx90a).
// Lane layout (AMD matrix instruction calculator, 16x16x16): lane
// l holds A[l % 16][4 (l / 16) + e], B[4 (l / 16) + e][l % 16] and
// D[4 (l / 16) + e][l % 16] for e = 0..3.
//
//===----------------------------------------------------------------------===//

#include "gecko/Target/AMD/GeckoToRocdl.h"
#include "gecko/Target/GPU/TileContractions.h"

#include "mlir/Dialect/AMDGPU/IR/AMDGPUDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassRegistry.h"

#include "llvm/ADT/StringSwitch.h"

namespace mlir::gecko {

namespace {

enum class MfmaSupport { None, F16, F16AndBF16 };

/// gfx908 has the f16 16x16x16 MFMA only (its bf16 form is 16x16x8);
/// gfx90a and gfx94x/gfx950 have both.
MfmaSupport mfmaSupport(StringRef chip) {
  return llvm::StringSwitch<MfmaSupport>(chip)
      .Case("gfx908", MfmaSupport::F16)
      .Cases({"gfx90a", "gfx940", "gfx941", "gfx942", "gfx950"},
             MfmaSupport::F16AndBF16)
      .Default(MfmaSupport::None);
}

MatrixInstruction mfma16x16x16(Type operandType) {
  MatrixInstruction mi;
  mi.subgroupSize = 64;
  mi.m = 16;
  mi.n = 16;
  mi.k = 16;
  mi.operandType = operandType;
  mi.positions = [](OpBuilder &b, Location loc, Value lane, Fragment which) {
    auto c = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    Value row = arith::RemUIOp::create(b, loc, lane, c(16));
    Value quad = arith::MulIOp::create(
        b, loc, arith::DivUIOp::create(b, loc, lane, c(16)), c(4));
    SmallVector<std::pair<Value, Value>> pos;
    for (int64_t e = 0; e < 4; ++e) {
      Value inner =
          e == 0 ? quad : arith::AddIOp::create(b, loc, quad, c(e)).getResult();
      if (which == Fragment::A)
        pos.emplace_back(row, inner); // (m, k)
      else
        pos.emplace_back(inner, row); // B: (k, n); C: (m, n)
    }
    return pos;
  };
  mi.multiply = [operandType](OpBuilder &b, Location loc, ValueRange a,
                              ValueRange bv, ValueRange acc) {
    Type f32 = b.getF32Type();
    auto operand = VectorType::get({4}, operandType);
    auto accType = VectorType::get({4}, f32);
    Value va = vector::FromElementsOp::create(b, loc, operand, a);
    Value vb = vector::FromElementsOp::create(b, loc, operand, bv);
    Value vc = vector::FromElementsOp::create(b, loc, accType, acc);
    Value d = amdgpu::MFMAOp::create(b, loc, accType, /*m=*/16, /*n=*/16,
                                     /*k=*/16, /*blocks=*/1, va, vb, vc);
    SmallVector<Value> result;
    for (int64_t i = 0; i < 4; ++i)
      result.push_back(
          vector::ExtractOp::create(b, loc, d, ArrayRef<int64_t>{i}));
    return result;
  };
  return mi;
}

struct RocdlMfmaPass
    : public PassWrapper<RocdlMfmaPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(RocdlMfmaPass)

  RocdlMfmaPass() = default;
  RocdlMfmaPass(const RocdlMfmaPass &other) : PassWrapper(other) {}
  RocdlMfmaPass(StringRef chipName, int64_t threads) {
    chip = chipName.str();
    blockSize = threads;
  }

  StringRef getArgument() const override { return "gecko-rocdl-mfma"; }
  StringRef getDescription() const override {
    return "Run the f16/bf16 tile contractions (chunk_attention's tile "
           "matmuls) on MFMA 16x16x16 (gfx908: f16; gfx90a, gfx94x, gfx950: "
           "f16 and bf16), before gecko-map-forall-to-gpu";
  }
  void getDependentDialects(DialectRegistry &registry) const override {
    registry.insert<amdgpu::AMDGPUDialect, arith::ArithDialect, gpu::GPUDialect,
                    memref::MemRefDialect, scf::SCFDialect,
                    vector::VectorDialect>();
  }

  void runOnOperation() override {
    if (blockSize <= 0 || blockSize > 1024) {
      getOperation().emitError("gecko-rocdl-mfma: block-size must be in "
                               "[1, 1024], got ")
          << static_cast<int64_t>(blockSize);
      return signalPassFailure();
    }
    MfmaSupport support = mfmaSupport(chip);
    rewriteTileContractions(
        getOperation(), blockSize,
        [support](Type type) -> std::optional<MatrixInstruction> {
          if (support == MfmaSupport::None ||
              (type.isBF16() && support != MfmaSupport::F16AndBF16))
            return std::nullopt;
          return mfma16x16x16(type);
        });
  }

  Option<std::string> chip{
      *this, "chip",
      llvm::cl::desc("Target GFX architecture (gfx908, gfx90a, gfx94x, gfx950 "
                     "get MFMA)"),
      llvm::cl::init("gfx942")};
  Option<int64_t> blockSize{
      *this, "block-size",
      llvm::cl::desc("Threads per block (a multiple of 64)"),
      llvm::cl::init(128)};
};

} // namespace

std::unique_ptr<Pass> createGeckoRocdlMfmaPass(StringRef chip,
                                               int64_t blockSize) {
  return std::make_unique<RocdlMfmaPass>(chip, blockSize);
}

void registerGeckoRocdlMfmaPass() { PassRegistration<RocdlMfmaPass>(); }

} // namespace mlir::gecko
