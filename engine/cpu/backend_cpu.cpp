// The CPU backend: host memory and the reference ops, dispatched through a table indexed by Op.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "cpu/cpu_ops.h"
#include "sr/backend.h"
#include "sr/error.h"

namespace sr {

namespace {

using CpuForward = void (*)(const OpCall&);

constexpr CpuForward kCpuForward[] = {
#define SR_CPU_FORWARD(name, n_in, n_w) &cpu::name##_fwd,
    SR_OP_LIST(SR_CPU_FORWARD)
#undef SR_CPU_FORWARD
};
static_assert(sizeof(kCpuForward) / sizeof(kCpuForward[0]) == kOpCount, "CPU op table");

using CpuBackward = void (*)(const OpGradCall&);

constexpr CpuBackward kCpuBackward[] = {
#define SR_CPU_BACKWARD(name, n_in, n_w) &cpu::name##_bwd,
    SR_OP_LIST(SR_CPU_BACKWARD)
#undef SR_CPU_BACKWARD
};
static_assert(sizeof(kCpuBackward) / sizeof(kCpuBackward[0]) == kOpCount, "CPU backward table");

// SR_CPU_PROFILE=1: every op call is timed; at exit a table on stderr lists the total seconds per
// op, direction and shape, largest first (a tool for finding where a training step or a forward
// goes, as bench_cpu_forward --profile does for one forward program).
class OpProfile {
 public:
  static OpProfile* get() {
    static OpProfile* profile = [] {
      const char* v = std::getenv("SR_CPU_PROFILE");
      if (!v || std::strcmp(v, "0") == 0 || *v == 0) return static_cast<OpProfile*>(nullptr);
      static OpProfile p;
      std::atexit([] { p.print(); });
      return &p;
    }();
    return profile;
  }
  template <typename F>
  void time(const OpCall& call, bool backward, F&& run) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::string key = std::string(op_name(call.op)) + (backward ? " bwd " : " fwd ");
    for (const TensorView& in : call.inputs)
      if (in.data) key += in.shape.str();
    key += " -> " + call.output.shape.str();
    std::lock_guard<std::mutex> lock(mutex_);
    Entry& e = entries_[key];
    e.seconds += s;
    ++e.calls;
  }

 private:
  struct Entry {
    double seconds = 0;
    long calls = 0;
  };
  void print() {
    std::vector<std::pair<std::string, Entry>> rows(entries_.begin(), entries_.end());
    std::sort(rows.begin(), rows.end(),
              [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
    double total = 0;
    for (const auto& r : rows) total += r.second.seconds;
    std::fprintf(stderr, "SR_CPU_PROFILE: %.3f s in ops\n%9s %6s %8s  op\n", total, "seconds", "%",
                 "calls");
    for (const auto& [key, e] : rows)
      std::fprintf(stderr, "%9.4f %6.2f %8ld  %s\n", e.seconds, 100 * e.seconds / total, e.calls,
                   key.c_str());
  }
  std::mutex mutex_;
  std::map<std::string, Entry> entries_;
};

class CpuBackend final : public Backend {
 public:
  BackendKind kind() const override { return BackendKind::cpu; }
  std::string description() const override { return "cpu"; }

  float* allocate(size_t count) override {
    size_t bytes = (std::max<size_t>(count, 1) * sizeof(float) + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, bytes);
    if (!p) fail("out of memory allocating ", bytes, " bytes");
    return static_cast<float*>(p);
  }
  void release(float* ptr) override { std::free(ptr); }
  void upload(float* dst, const float* src, size_t count) override {
    std::memcpy(dst, src, count * sizeof(float));
  }
  void download(float* dst, const float* src, size_t count) override {
    std::memcpy(dst, src, count * sizeof(float));
  }
  void run(const std::vector<OpCall>& program, uint64_t) override {
    // Every launcher starts with check_op_call (shapes, and strided views only where accepted).
    if (OpProfile* profile = OpProfile::get()) {
      for (const OpCall& call : program)
        profile->time(call, false, [&] { kCpuForward[static_cast<int>(call.op)](call); });
      return;
    }
    for (const OpCall& call : program) kCpuForward[static_cast<int>(call.op)](call);
  }
  void run_backward(const std::vector<OpGradCall>& program, uint64_t) override {
    OpProfile* profile = OpProfile::get();
    for (const OpGradCall& call : program) {
      check_op_call(call.forward);
      if (profile)
        profile->time(call.forward, true,
                      [&] { kCpuBackward[static_cast<int>(call.forward.op)](call); });
      else
        kCpuBackward[static_cast<int>(call.forward.op)](call);
    }
  }
  void fill_zero(float* ptr, size_t count) override { std::memset(ptr, 0, count * sizeof(float)); }
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() {
  return std::make_unique<CpuBackend>();
}

bool cpu_blas_uses_openmp() {
  return openblas_get_parallel() == 2;  // 0 sequential, 1 pthreads, 2 OpenMP
}

int max_cpu_threads() {
  return 4 * std::max(1, omp_get_num_procs());
}

void set_cpu_threads(int threads) {
  // More threads than cores only adds barrier waits; far more crashes or hangs libgomp (100000
  // segfaults, 10000 hangs), so the count is capped at 4x the cores.
  const int cap = max_cpu_threads();
  if (threads < 0 || threads > cap)
    fail("thread count must be 0 (auto) to ", cap, " (4x this machine's ", omp_get_num_procs(),
         " cores), got ", threads);
  if (threads == 0) {
    // Auto: the cores other work leaves idle (1-minute load average), at least one. Threads that
    // must wait for a core turn every OpenMP barrier and BLAS call into a stall: on a busy
    // machine one thread can be 100x faster than all of them.
    threads = omp_get_num_procs();
    double load = 0;
    if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
      if (std::fscanf(f, "%lf", &load) != 1) load = 0;
      std::fclose(f);
    }
    threads = std::max(1, threads - static_cast<int>(load + 0.5));
  }
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
}

}  // namespace sr
