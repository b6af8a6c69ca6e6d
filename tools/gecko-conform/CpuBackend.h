//===- CpuBackend.h - gecko-conform's JIT-compiled CPU backend ----*- C++
//-*-===//

#ifndef GECKO_CONFORM_CPUBACKEND_H
#define GECKO_CONFORM_CPUBACKEND_H

#include "Backend.h"

namespace gecko::conform {

/// Builds gecko IR for each case, lowers it with gecko-to-cpu and runs it
/// through the JIT (gecko::exec::CpuJit) in f32. Forward ops only so far:
/// rmsnorm, layernorm, zsplit, rope.
std::unique_ptr<Backend> createCpuBackend();

} // namespace gecko::conform

#endif // GECKO_CONFORM_CPUBACKEND_H
