// Writes that never leave a partial file: write to `<path>.tmp-<pid>`, rename over `path` at
// commit.
#pragma once

#include <string>

namespace sr {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();  // removes the temporary file unless committed
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  const std::string& temp_path() const { return temp_; }
  void commit();  // rename temporary -> final; throws on failure

 private:
  std::string path_, temp_;
  bool committed_ = false;
};

}  // namespace sr
