// Training patches in HDF5, the originals' container (spec 5.1 step 6): datasets `data` (the
// spline-interpolated low-rate patches) and `label` (the high-rate patches), float32 (N, L, 1).
// The writer streams (chunked, extendible datasets), so memory never holds all patches; the
// reader also opens the PyTorch port's `X`/`Y` (N, L) files. HDF5 is not thread-safe here: use a
// file from one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace sr {

class PatchWriter {
 public:
  // Creates `path` for patches of `length` samples. The file appears at `path` only when finish()
  // succeeds (temporary name, then rename); an unfinished writer removes its temporary file.
  PatchWriter(const std::string& path, int64_t length);
  ~PatchWriter();
  PatchWriter(const PatchWriter&) = delete;
  PatchWriter& operator=(const PatchWriter&) = delete;

  // data, label: (count, length) float32, appended after the patches already written.
  void append(const float* data, const float* label, int64_t count);
  // Keeps the first `count` patches (the originals truncate to a multiple of the batch size).
  void truncate(int64_t count);
  int64_t count() const { return count_; }
  int64_t length() const { return length_; }
  // Root attributes describing how the patches were made (scale, sample_rate, ...).
  void set_attribute(const std::string& name, int64_t value);
  void set_attribute(const std::string& name, const std::string& value);
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int64_t length_ = 0, count_ = 0;
};

class PatchFile {
 public:
  // Opens `data`/`label` of shape (N, L, 1) or (N, L), or else `X`/`Y` (the PyTorch port's).
  // Throws sr::Error naming the file for a missing file, a missing dataset, shapes that differ or
  // are not (N, L[, 1]), and element types that are not floating point (float64 is converted).
  // libhdf5 1.10 crashes on some crafted files (inside H5Lexists, H5Dread); so before this process
  // calls into it, a forked child opens the file and reads every patch the same way, and a crash
  // or hang there becomes an sr::Error ("libhdf5 crashed reading it"). Patch lengths above 2^24
  // samples are refused.
  explicit PatchFile(const std::string& path);
  ~PatchFile();
  PatchFile(const PatchFile&) = delete;
  PatchFile& operator=(const PatchFile&) = delete;

  int64_t count() const { return count_; }
  int64_t length() const { return length_; }
  // "data/label" or "X/Y": which pair of datasets was found.
  const std::string& layout() const { return layout_; }
  // Patches first .. first+n-1 into data_out, label_out: (n, length) float32 each; either may be
  // null to skip it.
  void read(int64_t first, int64_t n, float* data_out, float* label_out) const;
  // An integer root attribute written by PatchWriter::set_attribute, or `fallback` when absent.
  int64_t attribute(const std::string& name, int64_t fallback) const;

 private:
  PatchFile(const std::string& path, bool guarded);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_, layout_;
  int64_t count_ = 0, length_ = 0;
};

}  // namespace sr
