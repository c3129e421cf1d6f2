// sr-train's run folder: one run at a time (a lock), and log.csv kept consistent with the
// checkpoint across kills (rewritten atomically, rows past the checkpoint's epoch dropped).
#pragma once

#include <string>
#include <vector>

namespace sr::cli {

// An exclusive flock on DIR/.sr-train.lock for the process's lifetime; the kernel releases it
// when the process dies, however it dies. Throws sr::Error when another process holds it.
class RunFolderLock {
 public:
  explicit RunFolderLock(const std::string& dir);
  ~RunFolderLock();
  RunFolderLock(const RunFolderLock&) = delete;
  RunFolderLock& operator=(const RunFolderLock&) = delete;

 private:
  int fd_ = -1;
};

// A run folder this process created: removed again (with its lock file) when the run fails before
// anything else was written in it, so a failed start leaves nothing behind.
class CreatedRunFolder {
 public:
  explicit CreatedRunFolder(const std::string& dir);  // creates DIR (and parents) if missing
  ~CreatedRunFolder();
  void keep() { keep_ = true; }

 private:
  std::string dir_;
  bool created_ = false, keep_ = false;
};

// log.csv: a header and one row per finished epoch ("epoch,step,train_loss,val_loss,...").
class TrainingLog {
 public:
  explicit TrainingLog(std::string path) : path_(std::move(path)) {}
  void start();                      // a new run: no rows (the file appears with the first epoch)
  void resume(int last_epoch);       // keeps the rows of epochs 1..last_epoch (the last of each)
  void add(const std::string& row);  // appends a row and rewrites the file atomically
  std::vector<double> train_curve() const { return column(2); }
  std::vector<double> val_curve() const { return column(3); }

 private:
  std::vector<double> column(size_t index) const;
  void write() const;
  std::string path_;
  std::vector<std::string> rows_;
};

}  // namespace sr::cli
