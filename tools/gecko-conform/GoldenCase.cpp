//===- GoldenCase.cpp - Lookups into a loaded golden file
//------------------===//

#include "GoldenCase.h"

#include "llvm/ADT/StringExtras.h"

#include <cmath>

using namespace llvm;

namespace gecko::conform {

const ref::Tensor *GoldenCase::find(StringRef key) const {
  auto it = tensors.find(key.str());
  return it == tensors.end() ? nullptr : &it->second;
}

Expected<const ref::Tensor *> GoldenCase::require(StringRef key) const {
  if (const ref::Tensor *t = find(key))
    return t;
  return createStringError(inconvertibleErrorCode(),
                           "missing tensor '%s' (op '%s', variant '%s')",
                           key.str().c_str(), op.c_str(), variant.c_str());
}

Expected<std::string> GoldenCase::meta(StringRef key) const {
  auto it = metadata.find(key.str());
  if (it == metadata.end())
    return createStringError(inconvertibleErrorCode(),
                             "missing metadata '%s' (op '%s')",
                             key.str().c_str(), op.c_str());
  return it->second;
}

Expected<int64_t> GoldenCase::metaInt(StringRef key) const {
  Expected<std::string> text = meta(key);
  if (!text)
    return text.takeError();
  int64_t value;
  if (StringRef(*text).trim().getAsInteger(10, value))
    return createStringError(inconvertibleErrorCode(),
                             "metadata '%s' = '%s' is not an integer",
                             key.str().c_str(), text->c_str());
  return value;
}

Expected<double> GoldenCase::metaDouble(StringRef key) const {
  Expected<std::string> text = meta(key);
  if (!text)
    return text.takeError();
  double value;
  if (!to_float(StringRef(*text).trim(), value))
    return createStringError(inconvertibleErrorCode(),
                             "metadata '%s' = '%s' is not a number",
                             key.str().c_str(), text->c_str());
  return value;
}

ref::Tensor GoldenCase::upstreamGrad(StringRef outKey,
                                     const ref::Tensor &out) const {
  ref::Tensor grad(out.shape, 0.0);
  StringRef name = outKey;
  // "out.y" -> "gout.y"; "call2.out.y" -> "call2.gout.y".
  std::string goutKey;
  size_t pos = name.find("out.");
  if (pos == StringRef::npos || (pos != 0 && name[pos - 1] != '.'))
    return grad;
  goutKey = (name.substr(0, pos) + "gout." + name.substr(pos + 4)).str();
  const ref::Tensor *gout = find(goutKey);
  if (!gout || gout->numel() != out.numel())
    return grad;
  for (int64_t i = 0; i < out.numel(); ++i)
    grad[i] = std::isfinite(out[i]) ? (*gout)[i] : 0.0;
  return grad;
}

} // namespace gecko::conform
