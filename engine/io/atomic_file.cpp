// Writes that never leave a partial file: the data goes to a temporary name beside the target (same
// directory, so the rename stays on one file system and is atomic), renamed over it at commit.
#include "sr/io/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "sr/error.h"

namespace sr {
namespace {

// Live temporary paths, read by the signal handler: fixed slots of heap strings, so the handler
// needs no allocation or lock (async-signal-safe: it only loads pointers and calls unlink).
constexpr int kSlots = 64;
std::atomic<char*> g_temp_paths[kSlots];
const char* g_program = "sr";

int register_temp(const std::string& path) {
  char* copy = strdup(path.c_str());
  if (!copy) throw std::bad_alloc();
  for (int i = 0; i < kSlots; ++i) {
    char* expected = nullptr;
    if (g_temp_paths[i].compare_exchange_strong(expected, copy)) return i;
  }
  std::free(copy);
  return -1;  // more than kSlots open outputs at once: this one is only removed by its destructor
}

void unregister_temp(int slot) {
  if (slot >= 0) std::free(g_temp_paths[slot].exchange(nullptr));
}

void write_stderr(const char* s) {
  ssize_t unused = ::write(STDERR_FILENO, s, std::strlen(s));
  (void)unused;
}

extern "C" void on_terminating_signal(int sig) {
  for (auto& slot : g_temp_paths)
    if (char* p = slot.load()) ::unlink(p);
  write_stderr(g_program);
  write_stderr(sig == SIGINT    ? ": interrupted (SIGINT)"
               : sig == SIGTERM ? ": terminated (SIGTERM)"
                                : ": hung up (SIGHUP)");
  write_stderr("; unfinished output files removed\n");
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

bool process_gone(long pid) {
  return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

void fsync_path(const std::string& path, int flags, const char* what) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) fail(path, ": cannot open to flush the ", what, " (", std::strerror(errno), ")");
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some file systems (pipes, /dev, a few FUSE mounts) cannot sync a directory: not an error.
  if (rc != 0 && err != EINVAL && err != EROFS)
    fail(path, ": cannot flush the ", what, " to disk (", std::strerror(err), ")");
}

std::string parent_dir(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

int remove_stale_temp_files(const std::string& path) {
  const std::string dir = parent_dir(path);
  const size_t slash = path.rfind('/');
  const std::string prefix = (slash == std::string::npos ? path : path.substr(slash + 1)) + ".tmp-";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  int removed = 0;
  while (const dirent* e = ::readdir(d)) {
    const char* name = e->d_name;
    if (std::strncmp(name, prefix.c_str(), prefix.size()) != 0) continue;
    const char* digits = name + prefix.size();
    char* end = nullptr;
    const long pid = std::strtol(digits, &end, 10);
    if (end == digits || *end != '\0' || pid == ::getpid() || !process_gone(pid)) continue;
    if (::unlink((dir + "/" + name).c_str()) == 0) ++removed;
  }
  ::closedir(d);
  return removed;
}

void remove_temp_files_on_signals(const char* program) {
  g_program = program;
  struct sigaction sa {};
  sa.sa_handler = on_terminating_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
}

AtomicFile::AtomicFile(std::string path)
    : path_(std::move(path)), temp_(path_ + ".tmp-" + std::to_string(::getpid())) {
  if (path_.empty()) fail("output path is empty");
  remove_stale_temp_files(path_);
  slot_ = register_temp(temp_);
}

AtomicFile::~AtomicFile() {
  if (!committed_) std::remove(temp_.c_str());  // may not exist yet; ignoring the result is fine
  unregister_temp(slot_);
}

void AtomicFile::commit() {
  if (committed_) return;
  // Data first, then the name: after a power loss the file is either the old one or the whole
  // new one, never an empty file under the final name.
  fsync_path(temp_, O_RDONLY, "file");
  if (std::rename(temp_.c_str(), path_.c_str()) != 0) {
    int err = errno;  // the destructor removes the temporary file
    fail(path_, ": cannot move the finished file into place (", std::strerror(err), ")");
  }
  committed_ = true;
  unregister_temp(slot_);
  slot_ = -1;
  fsync_path(parent_dir(path_), O_RDONLY | O_DIRECTORY, "directory entry");
}

}  // namespace sr
