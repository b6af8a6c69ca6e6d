//===- TileContractions.cpp - Tile contractions on matrix instructions ----===//
//
// Vendor-neutral driver of the tensor-core / MFMA path (see
// TileContractions.h). A contraction C(M x N) += A(M x K) B(K x N) inside a
// tile becomes
//
//   scf.forall (%tid) in (blockSize) [#gpu.thread<x>] {
//     subgroup = tid / S, lane = tid % S        (S: the subgroup size)
//     scf.for %t = subgroup to ceil(M/m) * ceil(N/n) step blockSize / S {
//       C fragment <- output (rows >= M / columns >= N read as 0)
//       scf.for %k0 = 0 to K step k:            (iter_args: the C fragment)
//         A, B fragments <- operands (zero-padded, f32 rounded to f16/bf16)
//         D = instruction(A, B, C)
//       output <- D fragment (masked)
//     }
//   }
//
// Every lane of a subgroup runs the same tile and k loops, so the
// subgroup-wide instruction is executed uniformly. gecko-map-forall-to-gpu
// then maps the forall to the block's threads like its own thread loops
// (followed by a barrier); the operands are read with scalar loads from
// wherever they live (global memory for q/k/v slices, workgroup memory for
// the f32 score / probability tiles).
//
//===----------------------------------------------------------------------===//

#include "gecko/Target/GPU/TileContractions.h"
#include "gecko/Target/GPU/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::gecko {
#define GEN_PASS_DEF_GECKOTESTTILECONTRACTIONS
#include "GeckoGpuPasses.h.inc"

namespace {

/// A contraction that can run on matrix instructions.
struct TileContraction {
  linalg::LinalgOp op;
  unsigned mDim = 0, nDim = 0, kDim = 0;
  Type operandType; // f16 or bf16
};

/// yield(out + x * y) with {x, y} = the two inputs, each maybe extf'ed.
bool isMultiplyAddBody(linalg::LinalgOp op) {
  Block *body = op.getBlock();
  if (!body || body->getNumArguments() != 3)
    return false;
  auto yield = dyn_cast<linalg::YieldOp>(body->getTerminator());
  if (!yield || yield.getNumOperands() != 1)
    return false;
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!add)
    return false;
  Value out = body->getArgument(2);
  Value product = add.getLhs() == out   ? add.getRhs()
                  : add.getRhs() == out ? add.getLhs()
                                        : Value();
  auto mul = product ? product.getDefiningOp<arith::MulFOp>() : nullptr;
  if (!mul)
    return false;
  auto source = [](Value v) {
    if (auto ext = v.getDefiningOp<arith::ExtFOp>())
      return ext.getIn();
    return v;
  };
  Value x = source(mul.getLhs()), y = source(mul.getRhs());
  Value in0 = body->getArgument(0), in1 = body->getArgument(1);
  return (x == in0 && y == in1) || (x == in1 && y == in0);
}

Type elementTypeOf(Value v) {
  return cast<MemRefType>(v.getType()).getElementType();
}

std::optional<TileContraction> matchContraction(linalg::LinalgOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || op.getNumLoops() != 3 ||
      op->getNumRegions() != 1 || !isMultiplyAddBody(op))
    return std::nullopt;
  for (AffineMap map : op.getIndexingMapsArray())
    if (!map.isProjectedPermutation() || map.getNumResults() != 2)
      return std::nullopt;
  FailureOr<linalg::ContractionDimensions> dims =
      linalg::inferContractionDims(op);
  if (failed(dims) || !dims->batch.empty() || dims->m.size() != 1 ||
      dims->n.size() != 1 || dims->k.size() != 1)
    return std::nullopt;
  Value lhs = op.getDpsInputOperand(0)->get();
  Value rhs = op.getDpsInputOperand(1)->get();
  Value out = op.getDpsInitOperand(0)->get();
  if (!isa<MemRefType>(lhs.getType()) || !isa<MemRefType>(rhs.getType()) ||
      !elementTypeOf(out).isF32())
    return std::nullopt;
  Type lhsType = elementTypeOf(lhs), rhsType = elementTypeOf(rhs);
  auto isHalf = [](Type t) { return t.isF16() || t.isBF16(); };
  Type operandType;
  if (isHalf(lhsType) && (rhsType == lhsType || rhsType.isF32()))
    operandType = lhsType;
  else if (isHalf(rhsType) && lhsType.isF32())
    operandType = rhsType;
  else
    return std::nullopt; // f32 x f32 (or mixed f16 x bf16): scalar path
  TileContraction tc;
  tc.op = op;
  tc.mDim = dims->m.front();
  tc.nDim = dims->n.front();
  tc.kDim = dims->k.front();
  tc.operandType = operandType;
  return tc;
}

Value constant(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

/// The emitter of one rewritten contraction.
struct Emitter {
  const TileContraction &tc;
  const MatrixInstruction &mi;
  Location loc;
  /// Per loop dimension: the size, and whether indices must be masked
  /// (the size is not a static multiple of the instruction's extent).
  SmallVector<Value, 3> sizes;
  SmallVector<bool, 3> masked;

  /// operand[indices(ivs)] for the loop indices `ivs` (only the dimensions
  /// the operand's map uses need to be set); out-of-range elements read as
  /// 0 (the index is clamped, the value replaced).
  Value load(OpBuilder &b, OpOperand *operand, ArrayRef<Value> ivs, Type type) {
    linalg::LinalgOp op = tc.op;
    AffineMap map = op.getMatchingIndexingMap(operand);
    Value inBounds;
    SmallVector<Value> indices;
    for (unsigned i = 0; i < map.getNumResults(); ++i) {
      unsigned dim = map.getDimPosition(i);
      Value index = ivs[dim];
      if (masked[dim]) {
        Value ok = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                         index, sizes[dim]);
        inBounds = inBounds
                       ? arith::AndIOp::create(b, loc, inBounds, ok).getResult()
                       : ok;
        Value last =
            arith::SubIOp::create(b, loc, sizes[dim], constant(b, loc, 1));
        index = arith::MinUIOp::create(b, loc, index, last);
      }
      indices.push_back(index);
    }
    Value value = memref::LoadOp::create(b, loc, operand->get(), indices);
    if (value.getType() != type)
      value = arith::TruncFOp::create(b, loc, type, value);
    if (!inBounds)
      return value;
    Value zero = arith::ConstantOp::create(b, loc, b.getZeroAttr(type));
    return arith::SelectOp::create(b, loc, inBounds, value, zero);
  }

  /// Loop indices with `first` at dimension d0 and `second` at d1.
  SmallVector<Value, 3> at(unsigned d0, Value first, unsigned d1,
                           Value second) {
    SmallVector<Value, 3> ivs(3);
    ivs[d0] = first;
    ivs[d1] = second;
    return ivs;
  }

  void emit(IRRewriter &rewriter, int64_t blockSize) {
    linalg::LinalgOp op = tc.op;
    MLIRContext *ctx = op->getContext();
    rewriter.setInsertionPoint(op);
    SmallVector<Range, 4> ranges = op.createLoopRanges(rewriter, loc);
    SmallVector<int64_t, 4> staticSizes = op.getStaticLoopRanges();
    int64_t extent[3];
    extent[tc.mDim] = mi.m;
    extent[tc.nDim] = mi.n;
    extent[tc.kDim] = mi.k;
    for (unsigned d = 0; d < 3; ++d) {
      sizes.push_back(
          getValueOrCreateConstantIndexOp(rewriter, loc, ranges[d].size));
      masked.push_back(ShapedType::isDynamic(staticSizes[d]) ||
                       staticSizes[d] % extent[d] != 0);
    }
    OpOperand *lhs = op.getDpsInputOperand(0);
    OpOperand *rhs = op.getDpsInputOperand(1);
    OpOperand *out = op.getDpsInitOperand(0);
    Type f32 = rewriter.getF32Type();

    auto mapping = rewriter.getArrayAttr(
        {gpu::GPUThreadMappingAttr::get(ctx, gpu::MappingId::DimX)});
    auto forall = scf::ForallOp::create(
        rewriter, loc, ArrayRef<OpFoldResult>{rewriter.getIndexAttr(blockSize)},
        ValueRange{}, mapping);
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointToStart(forall.getBody());
    OpBuilder &b = rewriter;
    Value tid = forall.getInductionVar(0);
    Value subgroupSize = constant(b, loc, mi.subgroupSize);
    Value subgroup = arith::DivUIOp::create(b, loc, tid, subgroupSize);
    Value lane = arith::RemUIOp::create(b, loc, tid, subgroupSize);
    auto posA = mi.positions(b, loc, lane, Fragment::A);
    auto posB = mi.positions(b, loc, lane, Fragment::B);
    auto posC = mi.positions(b, loc, lane, Fragment::C);

    Value tilesM = arith::CeilDivUIOp::create(b, loc, sizes[tc.mDim],
                                              constant(b, loc, mi.m));
    Value tilesN = arith::CeilDivUIOp::create(b, loc, sizes[tc.nDim],
                                              constant(b, loc, mi.n));
    Value tiles = arith::MulIOp::create(b, loc, tilesM, tilesN);
    Value subgroups = constant(b, loc, blockSize / mi.subgroupSize);
    auto tileLoop = scf::ForOp::create(b, loc, subgroup, tiles, subgroups);
    b.setInsertionPointToStart(tileLoop.getBody());
    Value t = tileLoop.getInductionVar();
    Value rowBase =
        arith::MulIOp::create(b, loc, arith::DivUIOp::create(b, loc, t, tilesN),
                              constant(b, loc, mi.m));
    Value colBase =
        arith::MulIOp::create(b, loc, arith::RemUIOp::create(b, loc, t, tilesN),
                              constant(b, loc, mi.n));
    auto plus = [&](OpBuilder &nb, Value base, Value offset) -> Value {
      return arith::AddIOp::create(nb, loc, base, offset);
    };

    SmallVector<Value> cIndicesRow, cIndicesCol, accumulators;
    for (auto [r, c] : posC) {
      cIndicesRow.push_back(plus(b, rowBase, r));
      cIndicesCol.push_back(plus(b, colBase, c));
      accumulators.push_back(load(
          b, out, at(tc.mDim, cIndicesRow.back(), tc.nDim, cIndicesCol.back()),
          f32));
    }
    auto kLoop = scf::ForOp::create(
        b, loc, constant(b, loc, 0), sizes[tc.kDim], constant(b, loc, mi.k),
        accumulators, [&](OpBuilder &lb, Location, Value k0, ValueRange acc) {
          SmallVector<Value> a, bv;
          for (auto [r, c] : posA)
            a.push_back(load(
                lb, lhs,
                at(tc.mDim, plus(lb, rowBase, r), tc.kDim, plus(lb, k0, c)),
                mi.operandType));
          for (auto [r, c] : posB)
            bv.push_back(load(
                lb, rhs,
                at(tc.kDim, plus(lb, k0, r), tc.nDim, plus(lb, colBase, c)),
                mi.operandType));
          scf::YieldOp::create(lb, loc, mi.multiply(lb, loc, a, bv, acc));
        });

    AffineMap outMap = op.getMatchingIndexingMap(out);
    for (auto [i, result] : llvm::enumerate(kLoop.getResults())) {
      SmallVector<Value, 3> ivs =
          at(tc.mDim, cIndicesRow[i], tc.nDim, cIndicesCol[i]);
      Value inBounds;
      SmallVector<Value> indices;
      for (unsigned r = 0; r < outMap.getNumResults(); ++r) {
        unsigned dim = outMap.getDimPosition(r);
        indices.push_back(ivs[dim]);
        if (!masked[dim])
          continue;
        Value ok = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                         ivs[dim], sizes[dim]);
        inBounds = inBounds
                       ? arith::AndIOp::create(b, loc, inBounds, ok).getResult()
                       : ok;
      }
      if (!inBounds) {
        memref::StoreOp::create(b, loc, result, out->get(), indices);
        continue;
      }
      auto guarded = scf::IfOp::create(b, loc, inBounds, /*else=*/false);
      OpBuilder::InsertionGuard inner(b);
      b.setInsertionPointToStart(guarded.thenBlock());
      memref::StoreOp::create(b, loc, result, out->get(), indices);
    }
    rewriter.eraseOp(op);
  }
};

} // namespace

int64_t rewriteTileContractions(ModuleOp module, int64_t blockSize,
                                const MatrixInstructionSelector &select) {
  SmallVector<std::pair<TileContraction, MatrixInstruction>> work;
  module.walk([&](linalg::LinalgOp op) {
    // Only work inside a (not yet mapped) tile forall.
    if (!op->getParentOfType<scf::ForallOp>() ||
        op->getParentOfType<gpu::LaunchOp>() ||
        op->getParentOfType<gpu::GPUModuleOp>())
      return;
    std::optional<TileContraction> tc = matchContraction(op);
    if (!tc)
      return;
    std::optional<MatrixInstruction> mi = select(tc->operandType);
    if (!mi || mi->subgroupSize <= 0 || blockSize < mi->subgroupSize ||
        blockSize % mi->subgroupSize != 0)
      return;
    work.emplace_back(*tc, std::move(*mi));
  });
  IRRewriter rewriter(module.getContext());
  for (auto &[tc, mi] : work) {
    Emitter emitter{tc, mi, tc.op.getLoc(), {}, {}};
    emitter.emit(rewriter, blockSize);
  }
  return static_cast<int64_t>(work.size());
}

} // namespace mlir::gecko

namespace mlir::gecko {
namespace {

/// gecko-test-tile-contractions: a 4x4x4 "instruction" on 2-lane subgroups
/// (lane l: rows 2l, 2l+1 of A and C, all of B) computed with scalar f32
/// multiply-adds, so that the driver's output runs on the host.
MatrixInstruction emulatedInstruction(Type operandType) {
  MatrixInstruction mi;
  mi.subgroupSize = 2;
  mi.m = mi.n = mi.k = 4;
  mi.operandType = operandType;
  mi.positions = [](OpBuilder &b, Location loc, Value lane, Fragment which) {
    auto c = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    Value firstRow = arith::MulIOp::create(b, loc, lane, c(2));
    SmallVector<std::pair<Value, Value>> pos;
    for (int64_t i = 0; i < (which == Fragment::B ? 4 : 2); ++i)
      for (int64_t j = 0; j < 4; ++j) {
        Value row =
            which == Fragment::B
                ? c(i)
                : arith::AddIOp::create(b, loc, firstRow, c(i)).getResult();
        pos.emplace_back(row, c(j));
      }
    return pos;
  };
  mi.multiply = [](OpBuilder &b, Location loc, ValueRange a, ValueRange bv,
                   ValueRange acc) {
    Type f32 = b.getF32Type();
    auto ext = [&](Value v) -> Value {
      return arith::ExtFOp::create(b, loc, f32, v);
    };
    SmallVector<Value> d;
    for (int64_t r = 0; r < 2; ++r)
      for (int64_t n = 0; n < 4; ++n) {
        Value sum = acc[r * 4 + n];
        for (int64_t k = 0; k < 4; ++k)
          sum = arith::AddFOp::create(
              b, loc, sum,
              arith::MulFOp::create(b, loc, ext(a[r * 4 + k]),
                                    ext(bv[k * 4 + n])));
        d.push_back(sum);
      }
    return d;
  };
  return mi;
}

struct TestTileContractions
    : public impl::GeckoTestTileContractionsBase<TestTileContractions> {
  using Base::Base;
  void runOnOperation() override {
    if (blockSize <= 0 || blockSize % 2 != 0) {
      getOperation().emitError("gecko-test-tile-contractions: block-size "
                               "must be a positive multiple of 2, got ")
          << static_cast<int64_t>(blockSize);
      return signalPassFailure();
    }
    rewriteTileContractions(getOperation(), blockSize, [](Type type) {
      return std::optional<MatrixInstruction>(emulatedInstruction(type));
    });
  }
};

} // namespace
} // namespace mlir::gecko
