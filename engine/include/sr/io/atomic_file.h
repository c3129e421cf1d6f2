// Writes that never leave a partial file: write to `<path>.tmp-<pid>`, rename over `path` at
// commit, with the data and the directory entry flushed to disk (fsync) around the rename.
// Temporary files are also removed when the process is interrupted (SIGINT, SIGTERM, SIGHUP; see
// remove_temp_files_on_signals) and, for ones a killed process left behind (SIGKILL, power loss),
// by the next AtomicFile for the same path once their process is gone.
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
  void commit();  // fsync, rename temporary -> final, fsync the directory; throws on failure

 private:
  std::string path_, temp_;
  int slot_ = -1;  // in the registry of live temporary files the signal handler removes
  bool committed_ = false;
};

// Installs handlers for SIGINT, SIGTERM and SIGHUP that remove every live AtomicFile's temporary
// file, print "<program>: interrupted by <signal>; no output written" and end the process with
// the signal's usual status (128 + signal). Called once by each tool's main.
void remove_temp_files_on_signals(const char* program);

// Removes `<path>.tmp-<pid>` files beside `path` whose process no longer runs. Returns how many.
int remove_stale_temp_files(const std::string& path);

}  // namespace sr
