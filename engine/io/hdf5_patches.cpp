// HDF5 patch files through the HDF5 C API. Datasets are chunked along N (about 128 KiB per chunk,
// a few patches, so a data loader reading a small range touches little else) and extendible, so
// the writer appends without holding the patches. HDF5's own error printing is switched off
// around every call into it; the innermost message of its error stack goes into sr::Error instead.
#include "sr/io/hdf5_patches.h"

#include <hdf5.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <vector>

#include "sr/error.h"
#include "sr/io/atomic_file.h"

namespace sr {
namespace {

// Silences HDF5's automatic stack printing for one scope and restores what was there.
class QuietHdf5 {
 public:
  QuietHdf5() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietHdf5() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }
  QuietHdf5(const QuietHdf5&) = delete;
  QuietHdf5& operator=(const QuietHdf5&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

// The innermost (most specific) description on HDF5's error stack, then clears the stack.
std::string hdf5_reason() {
  std::string reason;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* e, void* out) -> herr_t {
        if (e && e->desc && *e->desc) *static_cast<std::string*>(out) = e->desc;
        return 0;
      },
      &reason);
  H5Eclear2(H5E_DEFAULT);
  return reason.empty() ? "HDF5 error" : reason;
}

// An hid_t closed by the matching H5?close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      close_ = o.close_;
      o.id_ = -1;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes now and reports failure (a close can be where buffered data reaches the disk).
  bool close() {
    bool ok = true;
    if (id_ >= 0 && close_) ok = close_(id_) >= 0;
    id_ = -1;
    return ok;
  }
  void reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = -1;
  }

 private:
  hid_t id_ = -1;
  Closer close_ = nullptr;
};

// Throws `what` plus HDF5's reason when id < 0; else wraps it.
Handle checked(hid_t id, Handle::Closer close, const std::string& what) {
  if (id < 0) fail(what, " (", hdf5_reason(), ")");
  return Handle(id, close);
}

void check_status(herr_t status, const std::string& what) {
  if (status < 0) fail(what, " (", hdf5_reason(), ")");
}

std::string shape_text(const std::vector<hsize_t>& dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i)
    s += (i ? ", " : "") + std::to_string(static_cast<unsigned long long>(dims[i]));
  return s + (dims.size() == 1 ? ",)" : ")");
}

constexpr const char* kNames[2] = {"data", "label"};

}  // namespace

// ---------------------------------------------------------------------------------------------
struct PatchWriter::Impl {
  explicit Impl(const std::string& path) : out(path) {}
  AtomicFile out;  // declared first: removes the temporary file after the handles are closed
  Handle file;
  Handle datasets[2];
  bool finished = false;
};

PatchWriter::PatchWriter(const std::string& path, int64_t length) : length_(length) {
  if (length <= 0) fail(path, ": patch length must be positive, got ", length);
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec))
    fail(path, ": no such directory ", parent.string());
  impl_ = std::make_unique<Impl>(path);
  QuietHdf5 quiet;
  // No modification times in object headers: the same patches give the same bytes (a rerun with
  // the same seed is byte-identical, whenever it runs).
  Handle file_props = checked(H5Pcreate(H5P_FILE_CREATE), H5Pclose, path + ": file properties");
  check_status(H5Pset_obj_track_times(file_props.get(), false), path + ": file properties");
  impl_->file = checked(
      H5Fcreate(impl_->out.temp_path().c_str(), H5F_ACC_TRUNC, file_props.get(), H5P_DEFAULT),
      H5Fclose, path + ": cannot create the HDF5 file");
  const hsize_t rows_per_chunk =
      static_cast<hsize_t>(std::max<int64_t>(1, (128 << 10) / (4 * length)));
  hsize_t dims[3] = {0, static_cast<hsize_t>(length), 1};
  hsize_t max_dims[3] = {H5S_UNLIMITED, static_cast<hsize_t>(length), 1};
  hsize_t chunk[3] = {rows_per_chunk, static_cast<hsize_t>(length), 1};
  Handle space = checked(H5Screate_simple(3, dims, max_dims), H5Sclose, path + ": dataspace");
  Handle props = checked(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, path + ": properties");
  check_status(H5Pset_chunk(props.get(), 3, chunk), path + ": chunking");
  check_status(H5Pset_obj_track_times(props.get(), false), path + ": chunking");
  for (int k = 0; k < 2; ++k)
    impl_->datasets[k] = checked(H5Dcreate2(impl_->file.get(), kNames[k], H5T_IEEE_F32LE,
                                            space.get(), H5P_DEFAULT, props.get(), H5P_DEFAULT),
                                 H5Dclose, path + ": cannot create dataset '" + kNames[k] + "'");
}

PatchWriter::~PatchWriter() = default;

void PatchWriter::append(const float* data, const float* label, int64_t count) {
  if (count < 0) fail("PatchWriter::append: negative count ", count);
  SR_CHECK(impl_ && !impl_->finished, "append after finish");
  if (count == 0) return;
  QuietHdf5 quiet;
  const hsize_t new_rows = static_cast<hsize_t>(count_ + count);
  hsize_t dims[3] = {new_rows, static_cast<hsize_t>(length_), 1};
  hsize_t start[3] = {static_cast<hsize_t>(count_), 0, 0};
  hsize_t block[3] = {static_cast<hsize_t>(count), static_cast<hsize_t>(length_), 1};
  Handle memory = checked(H5Screate_simple(3, block, nullptr), H5Sclose, "memory dataspace");
  const float* sources[2] = {data, label};
  for (int k = 0; k < 2; ++k) {
    const hid_t d = impl_->datasets[k].get();
    check_status(H5Dset_extent(d, dims), format("cannot grow dataset '", kNames[k], "'"));
    Handle file_space = checked(H5Dget_space(d), H5Sclose, "file dataspace");
    check_status(
        H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, block, nullptr),
        "hyperslab");
    check_status(
        H5Dwrite(d, H5T_NATIVE_FLOAT, memory.get(), file_space.get(), H5P_DEFAULT, sources[k]),
        format("cannot write dataset '", kNames[k], "' (disk full?)"));
  }
  count_ += count;
}

void PatchWriter::truncate(int64_t count) {
  SR_CHECK(impl_ && !impl_->finished, "truncate after finish");
  if (count < 0 || count > count_)
    fail("PatchWriter::truncate: ", count, " is outside [0, ", count_, "]");
  QuietHdf5 quiet;
  hsize_t dims[3] = {static_cast<hsize_t>(count), static_cast<hsize_t>(length_), 1};
  for (int k = 0; k < 2; ++k)
    check_status(H5Dset_extent(impl_->datasets[k].get(), dims),
                 format("cannot shrink dataset '", kNames[k], "'"));
  count_ = count;
}

void PatchWriter::set_attribute(const std::string& name, int64_t value) {
  SR_CHECK(impl_ && !impl_->finished, "set_attribute after finish");
  QuietHdf5 quiet;
  if (H5Aexists(impl_->file.get(), name.c_str()) > 0) H5Adelete(impl_->file.get(), name.c_str());
  Handle space = checked(H5Screate(H5S_SCALAR), H5Sclose, "attribute dataspace");
  Handle attr = checked(H5Acreate2(impl_->file.get(), name.c_str(), H5T_STD_I64LE, space.get(),
                                   H5P_DEFAULT, H5P_DEFAULT),
                        H5Aclose, "cannot create attribute '" + name + "'");
  check_status(H5Awrite(attr.get(), H5T_NATIVE_INT64, &value), "attribute '" + name + "'");
}

void PatchWriter::set_attribute(const std::string& name, const std::string& value) {
  SR_CHECK(impl_ && !impl_->finished, "set_attribute after finish");
  QuietHdf5 quiet;
  if (H5Aexists(impl_->file.get(), name.c_str()) > 0) H5Adelete(impl_->file.get(), name.c_str());
  Handle type = checked(H5Tcopy(H5T_C_S1), H5Tclose, "string type");
  check_status(H5Tset_size(type.get(), std::max<size_t>(1, value.size())), "string size");
  check_status(H5Tset_cset(type.get(), H5T_CSET_UTF8), "string charset");
  Handle space = checked(H5Screate(H5S_SCALAR), H5Sclose, "attribute dataspace");
  Handle attr = checked(H5Acreate2(impl_->file.get(), name.c_str(), type.get(), space.get(),
                                   H5P_DEFAULT, H5P_DEFAULT),
                        H5Aclose, "cannot create attribute '" + name + "'");
  std::string padded = value.empty() ? std::string(1, '\0') : value;
  check_status(H5Awrite(attr.get(), type.get(), padded.data()), "attribute '" + name + "'");
}

void PatchWriter::finish() {
  SR_CHECK(impl_ && !impl_->finished, "finish twice");
  QuietHdf5 quiet;
  bool ok = impl_->datasets[0].close();
  ok = impl_->datasets[1].close() && ok;
  ok = impl_->file.close() && ok;
  if (!ok) fail("cannot finish the HDF5 file (", hdf5_reason(), "; disk full?)");
  impl_->out.commit();
  impl_->finished = true;
}

// ---------------------------------------------------------------------------------------------
struct PatchFile::Impl {
  Handle file;
  Handle datasets[2];
};

namespace {

// Set by sanitizer runtimes (and used by libFuzzer to save crashing inputs); absent otherwise.
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

constexpr int kChildRefused = 3;  // the child's exit status when our reader threw sr::Error

// Opens and reads the whole file in a child process: a crash or hang inside libhdf5 happens there.
// Returns normally when the child finished (its own errors are the parent's to report).
void probe_in_child(const std::string& path, const std::function<void()>& open_and_read_all) {
  int message_pipe[2];
  if (::pipe(message_pipe) != 0) return;  // cannot probe: go on unguarded
  std::fflush(nullptr);
  const pid_t child = ::fork();
  if (child < 0) {
    ::close(message_pipe[0]);
    ::close(message_pipe[1]);
    return;
  }
  if (child == 0) {
    // Quiet, and dying plainly by the signal: a crash report (libhdf5's, a sanitizer's or a
    // fuzzer's handler, inherited from the parent) is the parent's to summarise in one line.
    for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) ::signal(sig, SIG_DFL);
    if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(nullptr);
    const int null_fd = ::open("/dev/null", O_WRONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDERR_FILENO);
    ::close(message_pipe[0]);
    try {
      open_and_read_all();
    } catch (const Error& e) {
      // Our reader's own refusal: its message goes to the parent, which then never calls
      // libhdf5 on this file (libhdf5 also leaks a little on some malformed files).
      const std::string text = e.what();
      const ssize_t unused =
          ::write(message_pipe[1], text.data(), std::min<size_t>(text.size(), 4096));
      (void)unused;
      ::_exit(kChildRefused);
    } catch (...) {
      ::_exit(kChildRefused + 1);
    }
    ::_exit(0);
  }
  ::close(message_pipe[1]);
  // A generous limit: reading a sane file from disk takes seconds per GB.
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  const double limit_s = 60.0 + (ec ? 0.0 : static_cast<double>(size) / 20e6);
  const auto start = std::chrono::steady_clock::now();
  int status = 0;
  for (int sleep_us = 200;; sleep_us = std::min(sleep_us * 2, 100000)) {
    const pid_t done = ::waitpid(child, &status, WNOHANG);
    if (done == child) break;
    if (done < 0 && errno != EINTR) {
      ::close(message_pipe[0]);
      return;
    }
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > limit_s) {
      ::kill(child, SIGKILL);
      ::waitpid(child, &status, 0);
      ::close(message_pipe[0]);
      fail(path, ": libhdf5 did not finish reading it in ", static_cast<int>(limit_s),
           " s (a corrupt or hostile HDF5 file?)");
    }
    ::usleep(static_cast<useconds_t>(sleep_us));
  }
  std::string message;
  char buffer[4096];
  for (ssize_t n; (n = ::read(message_pipe[0], buffer, sizeof buffer)) > 0;)
    message.append(buffer, static_cast<size_t>(n));
  ::close(message_pipe[0]);
  if (WIFSIGNALED(status))
    fail(path, ": corrupt HDF5 file (libhdf5 crashed reading it: ", strsignal(WTERMSIG(status)),
         ")");
  if (WIFEXITED(status) && WEXITSTATUS(status) == kChildRefused && !message.empty())
    throw Error(message);
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
    fail(path, ": corrupt HDF5 file (reading it failed in libhdf5, exit status ",
         WEXITSTATUS(status), ")");
}

constexpr int64_t kMaxPatchLength = int64_t{1} << 24;

}  // namespace

PatchFile::PatchFile(const std::string& path) : PatchFile(path, /*guarded=*/true) {}

PatchFile::PatchFile(const std::string& path, bool guarded)
    : impl_(std::make_unique<Impl>()), path_(path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail(path, ": no such file");
  if (!std::filesystem::is_regular_file(path, ec)) fail(path, ": not a regular file");
  if (guarded)
    probe_in_child(path, [&] {
      const PatchFile file(path, /*guarded=*/false);
      const int64_t per_read = std::max<int64_t>(1, (int64_t{1} << 22) / file.length());
      std::vector<float> data(static_cast<size_t>(per_read * file.length())), label(data.size());
      for (int64_t first = 0; first < file.count(); first += per_read)
        file.read(first, std::min(per_read, file.count() - first), data.data(), label.data());
    });
  QuietHdf5 quiet;
  const hid_t opened = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (opened < 0) fail(path, ": not a readable HDF5 file (", hdf5_reason(), ")");
  impl_->file = Handle(opened, H5Fclose);
  const hid_t f = impl_->file.get();
  auto has = [&](const char* name) { return H5Lexists(f, name, H5P_DEFAULT) > 0; };
  const char* names[2] = {nullptr, nullptr};
  if (has("data") || has("label")) {
    if (!has("data") || !has("label"))
      fail(path, ": has dataset '", has("data") ? "data" : "label", "' but no '",
           has("data") ? "label" : "data", "'");
    names[0] = "data";
    names[1] = "label";
  } else if (has("X") || has("Y")) {
    if (!has("X") || !has("Y"))
      fail(path, ": has dataset '", has("X") ? "X" : "Y", "' but no '", has("X") ? "Y" : "X", "'");
    names[0] = "X";
    names[1] = "Y";
  } else {
    std::string found;  // the root's names, for the message
    H5G_info_t info;
    if (H5Gget_info(f, &info) >= 0)
      for (hsize_t i = 0; i < info.nlinks && i < 20; ++i) {
        char name[256] = {0};
        if (H5Lget_name_by_idx(f, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name,
                               H5P_DEFAULT) < 0)
          break;
        found += (found.empty() ? "'" : ", '") + std::string(name) + "'";
      }
    H5Eclear2(H5E_DEFAULT);
    fail(path,
         ": no patch datasets: expected 'data'/'label' (the originals') or 'X'/'Y' (the "
         "PyTorch port's); the file has ",
         found.empty() ? std::string("nothing") : found);
  }
  layout_ = std::string(names[0]) + "/" + names[1];

  std::vector<hsize_t> shapes[2];
  for (int k = 0; k < 2; ++k) {
    impl_->datasets[k] = checked(H5Dopen2(f, names[k], H5P_DEFAULT), H5Dclose,
                                 path + ": cannot open dataset '" + names[k] + "'");
    const hid_t d = impl_->datasets[k].get();
    Handle type = checked(H5Dget_type(d), H5Tclose, path + ": dataset type");
    if (H5Tget_class(type.get()) != H5T_FLOAT)
      fail(path, ": dataset '", names[k], "' is not floating point (float32 expected)");
    Handle space = checked(H5Dget_space(d), H5Sclose, path + ": dataset space");
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0) fail(path, ": dataset '", names[k], "' has no simple shape");
    shapes[k].resize(static_cast<size_t>(rank));
    H5Sget_simple_extent_dims(space.get(), shapes[k].data(), nullptr);
    if (!(rank == 2 || (rank == 3 && shapes[k][2] == 1)))
      fail(path, ": dataset '", names[k], "' has shape ", shape_text(shapes[k]),
           "; expected (N, L, 1) or (N, L)");
  }
  if (shapes[0][0] != shapes[1][0] || shapes[0][1] != shapes[1][1])
    fail(path, ": mismatched shapes: '", names[0], "' ", shape_text(shapes[0]), " vs '", names[1],
         "' ", shape_text(shapes[1]));
  count_ = static_cast<int64_t>(shapes[0][0]);
  length_ = static_cast<int64_t>(shapes[0][1]);
  if (length_ == 0) fail(path, ": patches of length 0");
  if (length_ > kMaxPatchLength)
    fail(path, ": patches of ", length_, " samples (the limit is 2^24 = ", kMaxPatchLength, ")");
}

PatchFile::~PatchFile() = default;

void PatchFile::read(int64_t first, int64_t n, float* data_out, float* label_out) const {
  if (first < 0 || n < 0 || first + n > count_)
    fail(path_, ": patches ", first, "..", first + n - 1, " requested, the file has ", count_);
  if (n == 0) return;
  QuietHdf5 quiet;
  float* targets[2] = {data_out, label_out};
  for (int k = 0; k < 2; ++k) {
    if (!targets[k]) continue;
    const hid_t d = impl_->datasets[k].get();
    Handle space = checked(H5Dget_space(d), H5Sclose, path_ + ": dataset space");
    const int rank = H5Sget_simple_extent_ndims(space.get());
    hsize_t start[3] = {static_cast<hsize_t>(first), 0, 0};
    hsize_t block[3] = {static_cast<hsize_t>(n), static_cast<hsize_t>(length_), 1};
    check_status(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, block, nullptr),
                 path_ + ": hyperslab");
    Handle memory = checked(H5Screate_simple(rank, block, nullptr), H5Sclose, "memory space");
    check_status(H5Dread(d, H5T_NATIVE_FLOAT, memory.get(), space.get(), H5P_DEFAULT, targets[k]),
                 path_ + ": cannot read patches " + std::to_string(first) + ".." +
                     std::to_string(first + n - 1));
  }
}

int64_t PatchFile::attribute(const std::string& name, int64_t fallback) const {
  QuietHdf5 quiet;
  const hid_t f = impl_->file.get();
  if (H5Aexists(f, name.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return fallback;
  }
  Handle attr = checked(H5Aopen(f, name.c_str(), H5P_DEFAULT), H5Aclose,
                        path_ + ": attribute '" + name + "'");
  Handle type = checked(H5Aget_type(attr.get()), H5Tclose, path_ + ": attribute type");
  if (H5Tget_class(type.get()) != H5T_INTEGER)
    fail(path_, ": attribute '", name, "' is not an integer");
  int64_t value = 0;
  check_status(H5Aread(attr.get(), H5T_NATIVE_INT64, &value), path_ + ": attribute '" + name + "'");
  return value;
}

}  // namespace sr
