#include "run_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "sr/error.h"
#include "sr/io/atomic_file.h"

namespace sr::cli {
namespace {

constexpr const char* kHeader =
    "epoch,step,train_loss,val_loss,val_snr,spline_snr,val_lsd,spline_lsd,lr,seconds,"
    "patches_per_second";

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> f;
  size_t s = 0, e;
  while ((e = line.find(',', s)) != std::string::npos)
    f.push_back(line.substr(s, e - s)), s = e + 1;
  f.push_back(line.substr(s));
  return f;
}

// A whole-field number or NaN (garbled rows from an old non-atomic append are skipped).
double number(const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  return text.empty() || *end != '\0' ? std::nan("") : v;
}

}  // namespace

RunFolderLock::RunFolderLock(const std::string& dir) {
  const std::string path = dir + "/.sr-train.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) fail(path, ": cannot open the run folder's lock (", std::strerror(errno), ")");
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {0};
    ssize_t n = ::pread(fd_, pid, sizeof pid - 1, 0);
    ::close(fd_);
    fd_ = -1;
    fail(dir, ": another sr-train is using this run folder",
         n > 0 ? std::string(" (pid ") + std::to_string(std::atol(pid)) + ")" : std::string(),
         "; give a different --out");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
    // the pid is only for the message above: not worth failing a run over
  }
}

RunFolderLock::~RunFolderLock() {
  if (fd_ >= 0) ::close(fd_);
}

CreatedRunFolder::CreatedRunFolder(const std::string& dir) : dir_(dir) {
  std::error_code ec;
  created_ = !std::filesystem::exists(dir, ec);
  std::filesystem::create_directories(dir, ec);
  if (!std::filesystem::is_directory(dir, ec))
    fail(dir, ": cannot create the run folder", ec ? " (" + ec.message() + ")" : std::string());
}

CreatedRunFolder::~CreatedRunFolder() {
  if (keep_ || !created_) return;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec))
    if (entry.path().filename() != ".sr-train.lock") return;  // something worth keeping
  std::filesystem::remove(dir_ + "/.sr-train.lock", ec);
  std::filesystem::remove(dir_, ec);
}

void TrainingLog::start() {
  rows_.clear();
}  // written with the first epoch's row

void TrainingLog::resume(int last_epoch) {
  std::map<int, std::string> by_epoch;
  std::ifstream in(path_);
  std::string line;
  int skipped = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line.rfind("epoch,", 0) == 0) continue;
    const std::vector<std::string> f = split_csv(line);
    const double epoch = number(f[0]);
    bool ok = f.size() == 11 && epoch >= 1 && epoch <= last_epoch && epoch == int(epoch);
    for (size_t i = 1; ok && i < f.size(); ++i) ok = !std::isnan(number(f[i])) || f[i] == "nan";
    if (ok)
      by_epoch[static_cast<int>(epoch)] = line;  // after a kill an epoch may appear twice
    else
      ++skipped;
  }
  rows_.clear();
  for (const auto& [epoch, row] : by_epoch) rows_.push_back(row);
  if (skipped)
    std::fprintf(stderr, "%s: dropped %d rows past the checkpoint's epoch %d or garbled\n",
                 path_.c_str(), skipped, last_epoch);
  write();
}

void TrainingLog::add(const std::string& row) {
  rows_.push_back(row);
  write();
}

std::vector<double> TrainingLog::column(size_t index) const {
  std::vector<double> v;
  for (const std::string& row : rows_) {
    const std::vector<std::string> f = split_csv(row);
    v.push_back(index < f.size() ? number(f[index]) : std::nan(""));
  }
  return v;
}

void TrainingLog::write() const {
  AtomicFile file(path_);
  {
    std::ofstream out(file.temp_path());
    out << kHeader << "\n";
    for (const std::string& row : rows_) out << row << "\n";
    out.flush();
    if (!out) fail(path_, ": cannot write");
  }
  file.commit();
}

}  // namespace sr::cli
