// Writes that never leave a partial file: the data goes to a temporary name beside the target (same
// directory, so the rename stays on one file system and is atomic), renamed over it at commit.
#include "sr/io/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "sr/error.h"

namespace sr {

AtomicFile::AtomicFile(std::string path)
    : path_(std::move(path)), temp_(path_ + ".tmp-" + std::to_string(::getpid())) {
  if (path_.empty()) fail("output path is empty");
}

AtomicFile::~AtomicFile() {
  if (!committed_) std::remove(temp_.c_str());  // may not exist yet; ignoring the result is fine
}

void AtomicFile::commit() {
  if (committed_) return;
  if (std::rename(temp_.c_str(), path_.c_str()) != 0) {
    int err = errno;  // the destructor removes the temporary file
    fail(path_, ": cannot move the finished file into place (", std::strerror(err), ")");
  }
  committed_ = true;
}

}  // namespace sr
