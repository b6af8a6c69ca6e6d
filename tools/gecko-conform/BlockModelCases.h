//===- BlockModelCases.h - Reference backend: block and model ---*- C++ -*-===//
//
// The "block" and "model" golden cases of the reference backend, kept apart
// from the per-op dispatch because they run whole layers.
//
// How to use GoldenCase / CaseResults (see GoldenCase.h):
//  - inputs:   c.find("in.x") (null when absent) or c.require("in.x")
//              (Expected, error names the key); per-call streaming inputs are
//              "call{i}.in.x" etc.; parameters "param.mega.wz.weight" etc.
//  - metadata: c.meta("config") / c.meta("schedule") (JSON strings),
//              c.metaInt(...) / c.metaDouble(...).
//  - gradients: feed c.upstreamGrad("out.y", y) as the upstream gradient of
//              out.y (already 0 where y is non-finite).
//  - outputs:  r.add("out.y", y), r.add("call0.cache_out.hx", h),
//              r.add("full.out.y", yf), r.add("cache.layers.0.memory", m).
//              Gradients use the leaf's name without its "in."/"param."
//              prefix, exactly as the file spells them: r.add("grad.x", dx),
//              r.add("grad.mega.wz.weight", dw), r.add("grad.embed.weight",
//              de).
// Every recorded key the file holds is compared; golden keys that are not
// recorded are listed by --verbose, and a case recording nothing FAILs.
// Return an llvm::Error (naming the problem) instead of recording partial
// garbage.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_CONFORM_BLOCKMODELCASES_H
#define GECKO_CONFORM_BLOCKMODELCASES_H

#include "GoldenCase.h"

#include "llvm/Support/Error.h"

namespace gecko::conform {

llvm::Error runReferenceBlockCase(const GoldenCase &c, CaseResults &r);
llvm::Error runReferenceModelCase(const GoldenCase &c, CaseResults &r);

} // namespace gecko::conform

#endif // GECKO_CONFORM_BLOCKMODELCASES_H
