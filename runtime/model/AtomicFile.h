//===- AtomicFile.h - Write a file atomically (tmp + fsync + rename) -----===//
//
// Internal to the model runtime. `<path>.tmp-<pid>` is written in the target
// directory, fsync'ed and renamed over `path` on commit(); without a commit
// (or on any write error) the temporary file is removed and `path` is left
// untouched.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_RUNTIME_MODEL_ATOMICFILE_H
#define GECKO_RUNTIME_MODEL_ATOMICFILE_H

#include "gecko/Runtime/Device.h" // Status

#include <cstddef>
#include <string>

namespace gecko::rt {

class AtomicFile {
public:
  AtomicFile() = default;
  ~AtomicFile();
  AtomicFile(const AtomicFile &) = delete;
  AtomicFile &operator=(const AtomicFile &) = delete;

  Status open(const std::string &path);
  /// Buffered; the first error is reported by commit().
  void append(const void *data, size_t size);
  Status commit();

private:
  void flush();
  std::string path, tempPath;
  int fd = -1;
  std::string buffer;
  std::string error;
};

} // namespace gecko::rt

#endif // GECKO_RUNTIME_MODEL_ATOMICFILE_H
