// The fuzz harnesses' one helper: the project's readers take paths, so each input is written to a
// file in /dev/shm (memory, no disk) named with the extension the reader should see.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace sr::fuzz {

class InputFile {
 public:
  InputFile(const uint8_t* data, size_t size, const char* extension)
      : path_("/dev/shm/sr_fuzz_" + std::to_string(::getpid()) + extension) {
    if (FILE* f = std::fopen(path_.c_str(), "wb")) {
      if (size) std::fwrite(data, 1, size, f);
      std::fclose(f);
    }
  }
  ~InputFile() { std::remove(path_.c_str()); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace sr::fuzz
