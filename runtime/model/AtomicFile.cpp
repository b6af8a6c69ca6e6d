//===- AtomicFile.cpp - Write a file atomically ---------------------------===//

#include "AtomicFile.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace gecko::rt {

namespace {
constexpr size_t kBufferBytes = 1 << 20;
} // namespace

AtomicFile::~AtomicFile() {
  if (fd >= 0) {
    ::close(fd);
    ::unlink(tempPath.c_str());
  }
}

Status AtomicFile::open(const std::string &target) {
  path = target;
  tempPath = target + ".tmp-" + std::to_string(::getpid());
  fd = ::open(tempPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return Status::error(path + ": cannot create " + tempPath + ": " +
                         std::strerror(errno));
  return Status::success();
}

void AtomicFile::flush() {
  size_t done = 0;
  while (error.empty() && done < buffer.size()) {
    ssize_t n = ::write(fd, buffer.data() + done, buffer.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      error = std::string("write failed: ") + std::strerror(errno);
    else
      done += static_cast<size_t>(n);
  }
  buffer.clear();
}

void AtomicFile::append(const void *data, size_t size) {
  if (fd < 0 || !error.empty())
    return;
  const char *bytes = static_cast<const char *>(data);
  while (size > 0) {
    size_t take = std::min(size, kBufferBytes - buffer.size());
    buffer.append(bytes, take);
    bytes += take;
    size -= take;
    if (buffer.size() == kBufferBytes)
      flush();
  }
}

Status AtomicFile::commit() {
  if (fd < 0)
    return Status::error(path + ": not open");
  flush();
  if (error.empty() && ::fsync(fd) != 0)
    error = std::string("fsync failed: ") + std::strerror(errno);
  int closeResult = ::close(fd);
  fd = -1;
  if (error.empty() && closeResult != 0)
    error = std::string("close failed: ") + std::strerror(errno);
  if (error.empty() && ::rename(tempPath.c_str(), path.c_str()) != 0)
    error = std::string("cannot rename the temporary file into place: ") +
            std::strerror(errno);
  if (!error.empty()) {
    ::unlink(tempPath.c_str());
    return Status::error(path + ": " + error);
  }
  // Make the rename itself durable.
  std::string dir = ".";
  size_t slash = path.rfind('/');
  if (slash != std::string::npos)
    dir = slash == 0 ? "/" : path.substr(0, slash);
  int dirFd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd >= 0) {
    ::fsync(dirFd);
    ::close(dirFd);
  }
  return Status::success();
}

} // namespace gecko::rt
