//===- MmaContractions.cpp - Tile contractions on mma.sync (sm_80+) -------===//
//
// gecko-nvvm-mma: the f16/bf16 tile contractions of bufferized gecko IR
// (chunk_attention's QK^T, PV, dO V^T, dS K, dS^T Q, P^T dO; any 2-D
// contraction with f32 accumulation, see TileContractions.h) run on
// `mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}.{f16,bf16}.f32`, one warp
// per 16x8 output tile. The instruction is emitted as `nvvm.mma.sync`
// directly: nvgpu.mma.sync cannot lower bf16 in MLIR 22 ("failed to deduce
// operand PTX types"). Fragment layouts: PTX ISA, "Matrix Fragments for
// mma.m16n8k16 with floating point type" (groupID = lane / 4,
// threadID_in_group = lane % 4).
//
//===----------------------------------------------------------------------===//

#include "gecko/Target/GPU/TileContractions.h"
#include "gecko/Target/NVIDIA/GeckoToNvvm.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassRegistry.h"

namespace mlir::gecko {

namespace {

/// The SM version of "sm_80", "sm_90a", ... (0 if not of that form).
int64_t smVersion(StringRef chip) {
  if (!chip.consume_front("sm_"))
    return 0;
  int64_t version = 0;
  if (chip.consumeInteger(10, version))
    return 0;
  return version;
}

MatrixInstruction mmaM16N8K16(Type operandType) {
  MatrixInstruction mi;
  mi.subgroupSize = 32;
  mi.m = 16;
  mi.n = 8;
  mi.k = 16;
  mi.operandType = operandType;
  mi.positions = [](OpBuilder &b, Location loc, Value lane, Fragment which) {
    auto c = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    auto add = [&](Value x, int64_t v) -> Value {
      return v == 0 ? x : arith::AddIOp::create(b, loc, x, c(v)).getResult();
    };
    Value group = arith::DivUIOp::create(b, loc, lane, c(4));
    Value pair = arith::MulIOp::create(
        b, loc, arith::RemUIOp::create(b, loc, lane, c(4)), c(2));
    SmallVector<std::pair<Value, Value>> pos;
    switch (which) {
    case Fragment::A: // a0..a7: 4 registers of 2 (row, k) elements
      for (int64_t reg = 0; reg < 4; ++reg)
        for (int64_t e = 0; e < 2; ++e)
          pos.emplace_back(add(group, (reg % 2) * 8),
                           add(pair, (reg / 2) * 8 + e));
      break;
    case Fragment::B: // b0..b3: 2 registers of 2 (k, column) elements
      for (int64_t reg = 0; reg < 2; ++reg)
        for (int64_t e = 0; e < 2; ++e)
          pos.emplace_back(add(pair, reg * 8 + e), group);
      break;
    case Fragment::C: // c0..c3 (f32)
      for (int64_t i = 0; i < 4; ++i)
        pos.emplace_back(add(group, (i / 2) * 8), add(pair, i % 2));
      break;
    }
    return pos;
  };
  mi.multiply = [operandType](OpBuilder &b, Location loc, ValueRange a,
                              ValueRange bv, ValueRange acc) {
    // f16 pairs are passed as vector<2xf16>, bf16 pairs as i32.
    auto pack = [&](Value x, Value y) -> Value {
      Value v = vector::FromElementsOp::create(
          b, loc, VectorType::get({2}, operandType), ValueRange{x, y});
      if (operandType.isF16())
        return v;
      Value word = vector::BitCastOp::create(
          b, loc, VectorType::get({1}, b.getI32Type()), v);
      return vector::ExtractOp::create(b, loc, word, ArrayRef<int64_t>{0});
    };
    SmallVector<Value> aRegs, bRegs;
    for (unsigned i = 0; i < a.size(); i += 2)
      aRegs.push_back(pack(a[i], a[i + 1]));
    for (unsigned i = 0; i < bv.size(); i += 2)
      bRegs.push_back(pack(bv[i], bv[i + 1]));
    Type f32 = b.getF32Type();
    auto resultType =
        LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
    NVVM::MMATypes ptx =
        operandType.isF16() ? NVVM::MMATypes::f16 : NVVM::MMATypes::bf16;
    auto mma = NVVM::MmaOp::create(
        b, loc, resultType, aRegs, bRegs, acc, ArrayRef<int64_t>{16, 8, 16},
        std::nullopt, std::nullopt, std::array<NVVM::MMATypes, 2>{ptx, ptx},
        std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                       NVVM::MMALayout::col});
    SmallVector<Value> d;
    for (int64_t i = 0; i < 4; ++i)
      d.push_back(LLVM::ExtractValueOp::create(b, loc, mma, i));
    return d;
  };
  return mi;
}

struct NvvmMmaPass : public PassWrapper<NvvmMmaPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(NvvmMmaPass)

  NvvmMmaPass() = default;
  NvvmMmaPass(const NvvmMmaPass &other) : PassWrapper(other) {}
  NvvmMmaPass(StringRef chipName, int64_t threads) {
    chip = chipName.str();
    blockSize = threads;
  }

  StringRef getArgument() const override { return "gecko-nvvm-mma"; }
  StringRef getDescription() const override {
    return "Run the f16/bf16 tile contractions (chunk_attention's tile "
           "matmuls) on mma.sync m16n8k16 (sm_80 and later), before "
           "gecko-map-forall-to-gpu";
  }
  void getDependentDialects(DialectRegistry &registry) const override {
    registry.insert<arith::ArithDialect, gpu::GPUDialect, LLVM::LLVMDialect,
                    memref::MemRefDialect, NVVM::NVVMDialect, scf::SCFDialect,
                    vector::VectorDialect>();
  }

  void runOnOperation() override {
    if (blockSize <= 0 || blockSize > 1024) {
      getOperation().emitError("gecko-nvvm-mma: block-size must be in "
                               "[1, 1024], got ")
          << static_cast<int64_t>(blockSize);
      return signalPassFailure();
    }
    if (smVersion(chip) < 80)
      return; // no m16n8k16 f16/bf16 mma before sm_80: scalar path
    rewriteTileContractions(getOperation(), blockSize, [](Type operandType) {
      return mmaM16N8K16(operandType);
    });
  }

  Option<std::string> chip{*this, "chip",
                           llvm::cl::desc("Target SM architecture (sm_80 and "
                                          "later get mma.sync)"),
                           llvm::cl::init("sm_90")};
  Option<int64_t> blockSize{
      *this, "block-size",
      llvm::cl::desc("Threads per block (a multiple of 32)"),
      llvm::cl::init(128)};
};

} // namespace

std::unique_ptr<Pass> createGeckoNvvmMmaPass(StringRef chip,
                                             int64_t blockSize) {
  return std::make_unique<NvvmMmaPass>(chip, blockSize);
}

void registerGeckoNvvmMmaPass() { PassRegistration<NvvmMmaPass>(); }

} // namespace mlir::gecko
