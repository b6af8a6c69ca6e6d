//===- VectorizeCpu.cpp - Register-tile and vectorize linalg on buffers ---===//
//
// The vectorization stage of gecko-to-cpu (after bufferization, before the
// remaining linalg ops become scalar loops). Every linalg op on memrefs
// whose elements are integers or floats is
//   1. tiled with scf.for to a register tile: contractions to
//      (batch 1, m `contraction-m-tile`, n `contraction-n-tile`, k 1) so
//      that the k loop is an outer-product/FMA chain on an m x n register
//      accumulator; any other op keeps its innermost dimensions whole while
//      the vector has at most `inner-tile` elements (a row of a norm, a
//      (channels, N) CEMA step) and tiles the rest: the last dimension to
//      `inner-tile`, the others to 1;
//   2. vectorized with linalg::vectorize, with masks where a tile is partial
//      (the affine.min tiles of the forall and of step 1), the vector size of
//      a dimension being its tile size or its static size;
//   3. lowered in stages (shared/notes/mlir22-recipes.md §2: one pattern set
//      with everything never converges): fold memref alias ops +
//      canonicalize, hoist redundant transfers (the accumulators of the k
//      loop), contraction -> outer products -> FMAs, transfer permutations /
//      rank-1 transfers, masks, shape casts and transposes, multi-reductions.
// Ops the vectorizer rejects (complex<f32> elements, ...) are left alone and
// become scalar loops later. Numerics change only by the order of f32
// operations (reductions are reassociated in vectors of lanes).
//
//===----------------------------------------------------------------------===//

#include "gecko/Conversion/GeckoToCpu.h"

#include "mlir/Conversion/VectorToSCF/VectorToSCF.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Hoisting.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/ValueBoundsOpInterface.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/LoopInvariantCodeMotionUtils.h"

namespace mlir::gecko {

namespace {

bool isVectorizableElement(Type type) {
  return type.isIntOrFloat() && !type.isInteger(1);
}

/// A constant upper bound of iteration dimension `dim` of `op`, if any.
std::optional<int64_t> loopUpperBound(linalg::LinalgOp op, unsigned dim) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  if (!ShapedType::isDynamic(ranges[dim]))
    return ranges[dim];
  Value operand;
  unsigned operandDim;
  if (failed(op.mapIterationSpaceDimToOperandDim(dim, operand, operandDim)))
    return std::nullopt;
  FailureOr<int64_t> bound = ValueBoundsConstraintSet::computeConstantBound(
      presburger::BoundType::UB,
      ValueBoundsConstraintSet::Variable(operand, operandDim),
      /*stopCondition=*/nullptr, /*closedUB=*/true);
  if (failed(bound) || *bound <= 0)
    return std::nullopt;
  return *bound;
}

struct GeckoVectorizeCpuPass
    : public PassWrapper<GeckoVectorizeCpuPass, OperationPass<func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(GeckoVectorizeCpuPass)

  GeckoVectorizeCpuPass() = default;
  GeckoVectorizeCpuPass(const GeckoVectorizeCpuPass &other)
      : PassWrapper(other) {}
  GeckoVectorizeCpuPass(const GeckoCpuVectorizeOptions &options) {
    innerTile = options.innerTile;
    contractionMTile = options.contractionMTile;
    contractionNTile = options.contractionNTile;
  }

  StringRef getArgument() const final { return "gecko-vectorize-cpu"; }
  StringRef getDescription() const final {
    return "Register-tile linalg ops on buffers and vectorize them (the "
           "vector stage of gecko-to-cpu)";
  }
  void getDependentDialects(DialectRegistry &registry) const override {
    registry.insert<affine::AffineDialect, arith::ArithDialect,
                    memref::MemRefDialect, scf::SCFDialect,
                    vector::VectorDialect>();
  }

  Option<int64_t> innerTile{
      *this, "inner-tile",
      llvm::cl::desc("Largest vector along the last loop dimension of a "
                     "non-contraction op"),
      llvm::cl::init(512)};
  Option<int64_t> maxRows{
      *this, "max-rows",
      llvm::cl::desc("Most rows (elements over the innermost vector size) "
                     "of a non-contraction op's vector"),
      llvm::cl::init(16)};
  Option<int64_t> contractionMTile{
      *this, "contraction-m-tile",
      llvm::cl::desc("Rows (m) of a contraction's register tile"),
      llvm::cl::init(8)};
  Option<int64_t> contractionNTile{
      *this, "contraction-n-tile",
      llvm::cl::desc("Columns (n) of a contraction's register tile"),
      llvm::cl::init(32)};

  /// Tile sizes (0: not tiled) and the vector size of every loop of `op`,
  /// or failure if some loop has no constant bound.
  LogicalResult plan(linalg::LinalgOp op, SmallVectorImpl<int64_t> &tiles,
                     SmallVectorImpl<int64_t> &vectorSizes) {
    unsigned numLoops = op.getNumLoops();
    tiles.assign(numLoops, 0);
    vectorSizes.assign(numLoops, 0);
    SmallVector<int64_t> want(numLoops, 1);
    FailureOr<linalg::ContractionDimensions> contraction = failure();
    if (linalg::isaContractionOpInterface(op))
      contraction = linalg::inferContractionDims(op);
    bool isContraction = succeeded(contraction) && !contraction->m.empty() &&
                         !contraction->n.empty();
    if (isContraction) {
      want[contraction->m.back()] = contractionMTile;
      want[contraction->n.back()] = contractionNTile;
    } else {
      want[numLoops - 1] = innerTile;
    }
    // Innermost first: a dimension is kept whole (no tile) while it fits
    // its wanted size and, for a non-contraction, the vector stays within
    // `innerTile` elements (so a (16, 16) CEMA step is one 2-D vector);
    // otherwise it is tiled to its wanted size.
    // An n-D vector is lowered to one rank-1 op per row (product of all but
    // the innermost vector size), fully unrolled, so a non-contraction also
    // keeps at most `maxRows` rows: without the cap a small innermost dim
    // (rope's (re, im) pair: (16, 2, 8, 2)) made 256-row vectors, thousands
    // of ops per linalg op. A dimension that would exceed the cap is tiled
    // to its largest divisor that fits (no partial tiles, no masks); only
    // parallel dimensions, so the order of every reduction stays as it was.
    SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
    int64_t elements = 1;
    int64_t rows = 1;
    for (int d = numLoops - 1; d >= 0; --d) {
      std::optional<int64_t> bound = loopUpperBound(op, d);
      bool inner = d == static_cast<int>(numLoops) - 1;
      bool capped = !isContraction && !inner &&
                    iterators[d] == utils::IteratorType::parallel;
      int64_t limit = want[d];
      int64_t rowLimit = std::max<int64_t>(1, maxRows / rows);
      if (!isContraction && !inner)
        limit = std::max<int64_t>(1, innerTile / elements);
      if (bound && *bound <= limit && (!capped || *bound <= rowLimit)) {
        vectorSizes[d] = *bound; // whole dimension (masked if dynamic)
      } else if (bound && *bound <= limit) {
        // Only the row cap is exceeded: a divisor of the static bound.
        int64_t tile = rowLimit;
        while (*bound % tile != 0)
          --tile;
        tiles[d] = tile;
        vectorSizes[d] = tile;
      } else {
        tiles[d] = want[d];
        vectorSizes[d] = want[d];
      }
      elements *= vectorSizes[d];
      if (!inner)
        rows *= vectorSizes[d];
    }
    for (int64_t size : vectorSizes)
      if (size <= 0)
        return failure();
    return success();
  }

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    MLIRContext *context = &getContext();
    IRRewriter rewriter(context);
    // Strided copies between static buffers (a tile into its place in the
    // result) become linalg.copy, register-tiled and vectorized like the rest,
    // instead of the element-wise memrefCopy runtime call.
    SmallVector<memref::CopyOp> copies;
    func.walk([&](memref::CopyOp copy) {
      auto source = cast<MemRefType>(copy.getSource().getType());
      auto target = cast<MemRefType>(copy.getTarget().getType());
      // Identity-layout copies stay memref.copy: they become one memcpy.
      bool contiguous =
          source.getLayout().isIdentity() && target.getLayout().isIdentity();
      if (!contiguous && source.hasStaticShape() && source.getRank() > 0 &&
          isVectorizableElement(source.getElementType()))
        copies.push_back(copy);
    });
    for (memref::CopyOp copy : copies) {
      rewriter.setInsertionPoint(copy);
      linalg::CopyOp::create(rewriter, copy.getLoc(), copy.getSource(),
                             copy.getTarget());
      rewriter.eraseOp(copy);
    }

    SmallVector<linalg::LinalgOp> candidates;
    func.walk([&](linalg::LinalgOp op) {
      if (!op.hasPureBufferSemantics() || op.getNumLoops() == 0)
        return;
      // Transcendentals that LLVM scalarizes into libm calls (cos, sin,
      // log, ...): the vector form only adds lane extracts and inserts
      // (rope: 0.7x). exp stays (the softmax generics around the
      // attention contractions).
      bool libmCall = false;
      op->walk([&](Operation *inner) {
        if (isa<math::CosOp, math::SinOp, math::TanOp, math::LogOp,
                math::Log1pOp, math::Log2Op, math::PowFOp, math::TanhOp,
                math::ErfOp, math::AtanOp, math::Atan2Op>(inner))
          libmCall = true;
      });
      if (libmCall)
        return;
      for (OpOperand &operand : op->getOpOperands()) {
        Type type = operand.get().getType();
        if (auto memref = dyn_cast<MemRefType>(type))
          type = memref.getElementType();
        if (!isVectorizableElement(type))
          return;
      }
      candidates.push_back(op);
    });

    for (linalg::LinalgOp op : candidates) {
      SmallVector<int64_t> tiles, vectorSizes;
      if (failed(plan(op, tiles, vectorSizes)))
        continue;
      linalg::LinalgOp target = op;
      if (llvm::any_of(tiles, [](int64_t t) { return t != 0; })) {
        rewriter.setInsertionPoint(op);
        linalg::LinalgTilingOptions tiling;
        tiling.setTileSizes(tiles);
        FailureOr<linalg::TiledLinalgOp> tiled =
            linalg::tileLinalgOp(rewriter, op, tiling);
        if (failed(tiled))
          continue;
        rewriter.eraseOp(op);
        target = tiled->op;
      }
      // A rejected op stays a (tiled) linalg op: scalar loops later.
      // Explicit fixed-size flags: the default (none) makes some vectorizer
      // paths read flags past the end of the empty list.
      SmallVector<bool> fixedDims(vectorSizes.size(), false);
      if (failed(
              linalg::vectorizeOpPrecondition(target, vectorSizes, fixedDims)))
        continue;
      rewriter.setInsertionPoint(target);
      FailureOr<linalg::VectorizationResult> result =
          linalg::vectorize(rewriter, target, vectorSizes, fixedDims,
                            /*vectorizeNDExtract=*/false,
                            /*flatten1DDepthwiseConv=*/false,
                            /*assumeDynamicDimsMatchVecSizes=*/false,
                            /*createNamedContraction=*/true);
      if (failed(result))
        continue; // stays a (tiled) linalg op: scalar loops later
      if (result->replacements.empty())
        rewriter.eraseOp(target);
      else
        rewriter.replaceOp(target, result->replacements);
    }

    RewritePatternSet canonical(context);
    for (Dialect *dialect : context->getLoadedDialects())
      dialect->getCanonicalizationPatterns(canonical);
    for (RegisteredOperationName name : context->getRegisteredOperations())
      name.getCanonicalizationPatterns(canonical, context);
    FrozenRewritePatternSet canonicalFrozen(std::move(canonical));
    auto stage = [&](llvm::function_ref<void(RewritePatternSet &)> fill) {
      RewritePatternSet patterns(context);
      fill(patterns);
      (void)applyPatternsGreedily(func, std::move(patterns));
    };

    // Stage 0: masked transfers as masked transfers (out of vector.mask),
    // before any pattern rewrites the ops inside a mask region.
    stage([](RewritePatternSet &p) {
      vector::populateVectorMaskLoweringPatternsForSideEffectingOps(p);
    });
    // Stage 1: fold subviews into the transfers, canonicalize.
    stage([](RewritePatternSet &p) {
      memref::populateFoldMemRefAliasOpPatterns(p);
    });
    (void)applyPatternsGreedily(func, canonicalFrozen);
    // Stage 2: keep k-loop accumulators in registers.
    // (Masks and indices of the edge tiles are made loop-invariant first.)
    func.walk([](LoopLikeOpInterface loop) { moveLoopInvariantCode(loop); });
    linalg::hoistRedundantVectorTransfers(func);
    // Stage 3: unit dimensions away (a (1, 16, 1) tile is a vector<16>).
    // Not vector's flatten-transfer patterns: with the unit-dimension
    // strided partial-sum slots of the timestep norm / CEMA gradients they
    // produced wrong parameter gradients (exec tests at chunk 1, 3, 5).
    stage([](RewritePatternSet &p) {
      vector::populateCastAwayVectorLeadingOneDimPatterns(p);
      vector::populateVectorTransferDropUnitDimsPatterns(p);
      vector::populateDropUnitDimWithShapeCastPatterns(p);
    });
    (void)applyPatternsGreedily(func, canonicalFrozen);
    // Stage 4: contractions -> outer products -> FMAs.
    stage([](RewritePatternSet &p) {
      vector::populateVectorContractLoweringPatterns(
          p, vector::VectorContractLowering::OuterProduct);
      vector::populateVectorOuterProductLoweringPatterns(p);
    });
    // Stage 5: transfers to rank-1 vector memory ops.
    stage([](RewritePatternSet &p) {
      vector::populateVectorTransferPermutationMapLoweringPatterns(p);
      VectorTransferToSCFOptions toScf;
      toScf.enableFullUnroll().setTargetRank(1);
      populateVectorToSCFConversionPatterns(p, toScf);
      vector::populateVectorTransferLoweringPatterns(p, /*maxTransferRank=*/1);
    });
    // Stage 6: reductions, broadcasts, shape casts, transposes, masks.
    stage([](RewritePatternSet &p) {
      vector::populateVectorMultiReductionLoweringPatterns(
          p, vector::VectorMultiReductionLowering::InnerReduction);
      vector::populateVectorBroadcastLoweringPatterns(p);
      vector::populateVectorMaskOpLoweringPatterns(p);
      vector::populateVectorShapeCastLoweringPatterns(p);
      vector::populateVectorTransposeLoweringPatterns(
          p, vector::VectorTransposeLowering::Shuffle1D);
    });
    (void)applyPatternsGreedily(func, canonicalFrozen);
  }
};

} // namespace

std::unique_ptr<Pass>
createGeckoVectorizeCpuPass(const GeckoCpuVectorizeOptions &options) {
  return std::make_unique<GeckoVectorizeCpuPass>(options);
}

void registerGeckoVectorizeCpuPass() {
  PassRegistration<GeckoVectorizeCpuPass>();
}

} // namespace mlir::gecko
