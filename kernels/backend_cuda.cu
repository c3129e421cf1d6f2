// The CUDA backend: device memory, one stream, ops dispatched through a table indexed by Op, and
// programs recorded once into CUDA graphs and replayed.
//
// run(program, id):
//   - first run of an id (or a program whose pointers, shapes or parameters changed, or whose
//     captured graph points into memory freed since): the calls run eagerly once (a warm-up that
//     checks every launch, finds cuDNN algorithms, builds converted weight copies and sizes the
//     scratch memory), then the same calls are captured into a graph, instantiated and cached;
//   - later runs replay the graph: one launch for the whole network.
//   SR_CUDA_SYNC=1 in the environment disables graphs and synchronises and checks after every node,
//   naming the node in the error (debugging).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "conv1d_internal.cuh"
#include "cuda_tools.h"
#include "ops_cuda.cuh"
#include "sr/backend.h"

namespace sr {

namespace cuda {

namespace {

using CudaForward = void (*)(const OpCall&, CudaContext&);

constexpr CudaForward kCudaForward[] = {
#define SR_CUDA_FORWARD(name, n_in, n_w) &name##_fwd_cuda,
    SR_OP_LIST(SR_CUDA_FORWARD)
#undef SR_CUDA_FORWARD
};
static_assert(sizeof(kCudaForward) / sizeof(kCudaForward[0]) == kOpCount, "CUDA op table");

constexpr size_t kMaxGraphs = 16;  // programs kept as instantiated graphs (least recently used out)

uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  return h * 0xBF58476D1CE4E5B9ull;
}
uint64_t float_bits(float f) {
  uint32_t u = 0;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

// Everything a captured graph bakes in: ops, parameters, pointers, shapes and row strides. The
// size checks make a new field in OpParams or TensorView a compile error here until it is hashed.
static_assert(sizeof(OpParams) == 64, "hash the new OpParams field in fingerprint()");
static_assert(sizeof(TensorView) == 40, "hash the new TensorView field in fingerprint()");
uint64_t fingerprint(const std::vector<OpCall>& program) {
  uint64_t h = mix(0, program.size());
  auto tensor = [&](const TensorView& t) {
    h = mix(h, reinterpret_cast<uintptr_t>(t.data));
    h = mix(h, static_cast<uint64_t>(t.shape.b));
    h = mix(h, static_cast<uint64_t>(t.shape.l));
    h = mix(h, static_cast<uint64_t>(t.shape.c));
    h = mix(h, static_cast<uint64_t>(t.ld));
  };
  for (const OpCall& call : program) {
    const OpParams& p = call.params;
    h = mix(h, static_cast<uint64_t>(call.op));
    h = mix(h, static_cast<uint64_t>(p.kernel));
    h = mix(h, static_cast<uint64_t>(p.dilation));
    h = mix(h, static_cast<uint64_t>(p.pool2));
    h = mix(h, static_cast<uint64_t>(p.act));
    h = mix(h, static_cast<uint64_t>(p.shuffle));
    h = mix(h, float_bits(p.alpha));
    h = mix(h, static_cast<uint64_t>(p.block));
    h = mix(h, static_cast<uint64_t>(p.order));
    h = mix(h, static_cast<uint64_t>(p.gate));
    h = mix(h, static_cast<uint64_t>(p.relu));
    h = mix(h, static_cast<uint64_t>(p.heads));
    h = mix(h, float_bits(p.eps));
    h = mix(h, float_bits(p.rate));
    h = mix(h, p.seed);
    for (const TensorView& t : call.inputs) tensor(t);
    for (const WeightView& w : call.weights) {
      h = mix(h, reinterpret_cast<uintptr_t>(w.data));
      for (int64_t d : w.dims) h = mix(h, static_cast<uint64_t>(d));
    }
    tensor(call.output);
  }
  return h;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(const BackendOptions& options) : ctx_(options) {
    const char* env = std::getenv("SR_CUDA_SYNC");
    sync_each_ = env && *env && std::strcmp(env, "0") != 0;
    cudaDeviceProp prop{};
    SR_CUDA_CHECK(cudaGetDeviceProperties(&prop, ctx_.device));
    description_ = format("cuda (", prop.name, ", ", prop.multiProcessorCount, " SMs, sm_",
                          prop.major, prop.minor, "; ", precision_name(options.precision),
                          ", conv ", conv_impl_name(options.conv_impl),
                          sync_each_ ? ", SR_CUDA_SYNC: eager, checked per node" : "", ")");
    conv1d_cuda_init(ctx_);
    lstm_cuda_init(ctx_);
    attention_cuda_init(ctx_);
  }

  ~CudaBackend() override {
    cudaStreamSynchronize(ctx_.stream);
    for (auto& [id, g] : graphs_) destroy(g);
    for (auto& [ptr, bytes] : sizes_) cudaFree(ptr);  // memory the owner did not release
  }

  BackendKind kind() const override { return BackendKind::cuda; }
  std::string description() const override { return description_; }

  float* allocate(size_t count) override {
    const size_t bytes = std::max<size_t>(count, 1) * sizeof(float);
    void* p = nullptr;
    const cudaError_t status = cudaMalloc(&p, bytes);
    if (status != cudaSuccess) {
      cudaGetLastError();
      fail("out of CUDA memory allocating ", bytes, " bytes (", cudaGetErrorString(status), ")");
    }
    sizes_[p] = bytes;
    return static_cast<float*>(p);
  }

  // Called from destructors: reports instead of throwing.
  void release(float* ptr) override {
    if (!ptr) return;
    auto it = sizes_.find(ptr);
    ctx_.forget(ptr, it != sizes_.end() ? it->second : sizeof(float));
    if (it != sizes_.end()) sizes_.erase(it);
    const cudaError_t status = cudaFree(ptr);
    if (status != cudaSuccess)
      std::fprintf(stderr, "warning: cudaFree failed: %s\n", cudaGetErrorString(status));
  }

  void upload(float* dst, const float* src, size_t count) override {
    ctx_.forget(dst, count * sizeof(float));  // a converted copy of these bytes is now stale
    // From pageable memory the call returns once `src` has been staged: the caller may reuse it.
    SR_CUDA_CHECK(
        cudaMemcpyAsync(dst, src, count * sizeof(float), cudaMemcpyHostToDevice, ctx_.stream));
    // From pageable memory the runtime *may* return before it has staged `src`; the caller owns
    // src and may free it when this returns, so wait (uploads are not on the hot path of a replay).
    SR_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
  }

  void fill_zero(float* ptr, size_t count) override {
    ctx_.forget(ptr, count * sizeof(float));
    SR_CUDA_CHECK(cudaMemsetAsync(ptr, 0, count * sizeof(float), ctx_.stream));
  }

  void download(float* dst, const float* src, size_t count) override {
    SR_CUDA_CHECK(
        cudaMemcpyAsync(dst, src, count * sizeof(float), cudaMemcpyDeviceToHost, ctx_.stream));
    SR_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
  }

  void run(const std::vector<OpCall>& program, uint64_t id) override {
    if (program.empty()) return;
    if (sync_each_) {
      run_eager(program, /*sync_each=*/true);
      return;
    }
    const uint64_t fp = fingerprint(program);
    auto it = graphs_.find(id);
    if (it != graphs_.end() && it->second.fingerprint == fp &&
        it->second.generation == ctx_.generation()) {
      it->second.last_use = ++clock_;
      if (it->second.exec) {
        SR_CUDA_CHECK(cudaGraphLaunch(it->second.exec, ctx_.stream));
      } else {
        run_eager(program, /*sync_each=*/false);  // its capture failed: stays eager
      }
      SR_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
      return;
    }
    run_eager(program, /*sync_each=*/false);  // produces this run's results
    SR_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
    capture(program, id, fp);
  }

  // ---- for cuda_tools ----
  CudaContext& context() { return ctx_; }

  std::vector<double> time_nodes(const std::vector<OpCall>& program, int passes) {
    run_eager(program, false);
    SR_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
    std::vector<cudaEvent_t> events(program.size() + 1, nullptr);
    std::vector<std::vector<double>> samples(program.size());
    try {
      for (auto& e : events) SR_CUDA_CHECK(cudaEventCreate(&e));
      for (int pass = 0; pass < passes; ++pass) {
        SR_CUDA_CHECK(cudaEventRecord(events[0], ctx_.stream));
        for (size_t i = 0; i < program.size(); ++i) {
          dispatch(program[i], i);
          SR_CUDA_CHECK(cudaEventRecord(events[i + 1], ctx_.stream));
        }
        SR_CUDA_CHECK(cudaEventSynchronize(events.back()));
        for (size_t i = 0; i < program.size(); ++i) {
          float ms = 0;
          SR_CUDA_CHECK(cudaEventElapsedTime(&ms, events[i], events[i + 1]));
          samples[i].push_back(ms);
        }
      }
    } catch (...) {
      for (auto e : events)
        if (e) cudaEventDestroy(e);
      throw;
    }
    for (auto e : events) cudaEventDestroy(e);
    std::vector<double> result;
    for (auto& s : samples) result.push_back(median(s));
    return result;
  }

  double time_replay(const std::vector<OpCall>& program, uint64_t id, int reps, int rounds) {
    SR_CHECK(!sync_each_, "time_replay: SR_CUDA_SYNC is set, so no graphs are used");
    const uint64_t fp = fingerprint(program);
    auto fresh = [&] {
      auto it = graphs_.find(id);
      return it != graphs_.end() && it->second.fingerprint == fp &&
             it->second.generation == ctx_.generation();
    };
    if (!fresh()) run(program, id);
    SR_CHECK(fresh() && graphs_.at(id).exec,
             "time_replay: the program's graph could not be captured");
    const cudaGraphExec_t exec = graphs_.at(id).exec;
    SR_CUDA_CHECK(cudaGraphLaunch(exec, ctx_.stream));  // warm
    cudaEvent_t start = nullptr, stop = nullptr;
    std::vector<double> per_round;
    try {
      SR_CUDA_CHECK(cudaEventCreate(&start));
      SR_CUDA_CHECK(cudaEventCreate(&stop));
      for (int r = 0; r < std::max(rounds, 1); ++r) {
        SR_CUDA_CHECK(cudaEventRecord(start, ctx_.stream));
        for (int i = 0; i < reps; ++i) SR_CUDA_CHECK(cudaGraphLaunch(exec, ctx_.stream));
        SR_CUDA_CHECK(cudaEventRecord(stop, ctx_.stream));
        SR_CUDA_CHECK(cudaEventSynchronize(stop));
        float ms = 0;
        SR_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
        per_round.push_back(ms / std::max(reps, 1));
      }
    } catch (...) {
      if (start) cudaEventDestroy(start);
      if (stop) cudaEventDestroy(stop);
      throw;
    }
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    return median(per_round);
  }

 private:
  struct Graph {
    uint64_t fingerprint = 0, generation = 0, last_use = 0;
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
  };

  static void destroy(Graph& g) {
    if (g.exec) cudaGraphExecDestroy(g.exec);
    if (g.graph) cudaGraphDestroy(g.graph);
    g.exec = nullptr;
    g.graph = nullptr;
  }

  void dispatch(const OpCall& call, size_t index) {
    try {
      kCudaForward[static_cast<int>(call.op)](call, ctx_);  // each starts with check_op_call
    } catch (const Error& e) {
      throw Error(format("node ", index, " (", op_name(call.op), "): ", e.what()));
    }
  }

  void run_eager(const std::vector<OpCall>& program, bool sync_each) {
    for (size_t i = 0; i < program.size(); ++i) {
      dispatch(program[i], i);
      if (sync_each) {
        const cudaError_t status = cudaStreamSynchronize(ctx_.stream);
        if (status != cudaSuccess)
          fail("node ", i, " (", op_name(program[i].op),
               "): CUDA error after the kernel: ", cudaGetErrorString(status));
      }
    }
  }

  void capture(const std::vector<OpCall>& program, uint64_t id, uint64_t fp) {
    auto old = graphs_.find(id);
    if (old != graphs_.end()) {
      destroy(old->second);
      graphs_.erase(old);
    }
    if (graphs_.size() >= kMaxGraphs) {
      auto lru = std::min_element(graphs_.begin(), graphs_.end(), [](const auto& a, const auto& b) {
        return a.second.last_use < b.second.last_use;
      });
      destroy(lru->second);
      graphs_.erase(lru);
    }
    Graph g;
    g.fingerprint = fp;
    g.generation = ctx_.generation();
    g.last_use = ++clock_;
    // The eager run just succeeded, so a failure here is one of capture itself (a library call
    // that cannot be captured, say): the program then stays eager, with one warning.
    try {
      SR_CUDA_CHECK(cudaStreamBeginCapture(ctx_.stream, cudaStreamCaptureModeThreadLocal));
      ctx_.capturing = true;
      try {
        for (size_t i = 0; i < program.size(); ++i) dispatch(program[i], i);
      } catch (...) {
        ctx_.capturing = false;
        cudaGraph_t partial = nullptr;
        cudaStreamEndCapture(ctx_.stream, &partial);
        if (partial) cudaGraphDestroy(partial);
        throw;
      }
      ctx_.capturing = false;
      SR_CUDA_CHECK(cudaStreamEndCapture(ctx_.stream, &g.graph));
      SR_CUDA_CHECK(cudaGraphInstantiate(&g.exec, g.graph, 0));
    } catch (const std::exception& e) {  // sr::Error, or bad_alloc and the like from the host side
      cudaGetLastError();                // capture errors are not sticky; clear the last-error slot
      destroy(g);
      if (!warned_capture_) {
        std::fprintf(stderr, "warning: CUDA graph capture failed, running eagerly: %s\n", e.what());
        warned_capture_ = true;
      }
    }
    graphs_[id] = g;
  }

  CudaContext ctx_;  // first member: destroyed last
  std::string description_;
  bool sync_each_ = false;
  std::unordered_map<void*, size_t> sizes_;  // live allocations, bytes
  std::map<uint64_t, Graph> graphs_;
  uint64_t clock_ = 0;
  bool warned_capture_ = false;
};

CudaBackend& as_cuda(Backend& backend) {
  auto* cuda = dynamic_cast<CudaBackend*>(&backend);
  SR_CHECK(cuda != nullptr, "not a CUDA backend: ", backend.description());
  return *cuda;
}

}  // namespace cuda

std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& options) {
  if (!cuda_available()) fail("no CUDA device is visible to this process (--backend cuda)");
  return std::make_unique<cuda::CudaBackend>(options);
}

namespace cuda_tools {

std::vector<double> time_nodes(Backend& backend, const std::vector<OpCall>& program, int passes) {
  return cuda::as_cuda(backend).time_nodes(program, std::max(passes, 1));
}

double time_replay(Backend& backend, const std::vector<OpCall>& program, uint64_t id, int reps,
                   int rounds) {
  return cuda::as_cuda(backend).time_replay(program, id, reps, rounds);
}

std::string conv1d_path(Backend& backend, const OpCall& call) {
  return cuda::conv1d_path_name(call, cuda::as_cuda(backend).context());
}

}  // namespace cuda_tools

}  // namespace sr
