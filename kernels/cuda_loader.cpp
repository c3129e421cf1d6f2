// sr::cuda_available, sr::make_cuda_backend and sr::cuda_tools for the executables of a CUDA
// build: they load the CUDA backend module (kernels/cuda_module.h) on first use. Where it is
// found: $SR_CUDA_MODULE if set, else libsr_cuda.so beside the executable, else ../lib/. When it
// cannot be loaded (the CUDA libraries are missing, say), there is no CUDA device as far as the
// tools are concerned, and asking for the CUDA backend gives the loader's reason. cuda_available()
// first looks for the NVIDIA driver's device nodes: without them no GPU can be visible, and the
// module (cuBLAS, cuDNN: ~200 MB resident, ~0.1 s) is not loaded for nothing.
#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <string>

#include "cuda_module.h"
#include "sr/error.h"

namespace sr {

namespace {

struct LoadedModule {
  const CudaModuleApi* api = nullptr;
  std::string error;  // why api is null
};

std::string executable_dir() {
  char path[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) return ".";
  std::string p(path, static_cast<size_t>(n));
  const size_t slash = p.rfind('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}

LoadedModule load() {
  LoadedModule m;
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("SR_CUDA_MODULE"); env && *env) {
    candidates.push_back(env);
  } else {
    const std::string dir = executable_dir();
    candidates.push_back(dir + "/" SR_CUDA_MODULE_FILE);
    candidates.push_back(dir + "/../lib/" SR_CUDA_MODULE_FILE);
  }
  for (const std::string& path : candidates) {
    if (access(path.c_str(), F_OK) != 0) {
      if (m.error.empty()) m.error = path + " does not exist";
      continue;
    }
    // An absolute path, so that dlopen opens this file rather than searching the library path
    // for a bare name. RTLD_LOCAL: the module's symbols (its own engine copy) stay its own.
    char resolved[PATH_MAX];
    const std::string file = realpath(path.c_str(), resolved) ? std::string(resolved) : path;
    void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* why = dlerror();
      m.error = "cannot load " + path + ": " + (why ? why : "unknown error");
      return m;
    }
    using Entry = const CudaModuleApi* (*)();
    auto entry = reinterpret_cast<Entry>(dlsym(handle, SR_CUDA_MODULE_ENTRY));
    if (!entry) {
      m.error = path + " has no " SR_CUDA_MODULE_ENTRY;
      return m;
    }
    const CudaModuleApi* api = entry();
    if (!api || api->abi != kCudaModuleAbi) {
      m.error = path + " is from another build (module ABI " + std::to_string(api ? api->abi : -1) +
                ", expected " + std::to_string(kCudaModuleAbi) + ")";
      return m;
    }
    m.api = api;  // never unloaded: backends and their vtables live in it
    m.error.clear();
    return m;
  }
  return m;
}

// The driver's control node (Linux), or WSL's GPU paravirtualisation device.
bool driver_present() {
  return access("/dev/nvidiactl", F_OK) == 0 || access("/dev/dxg", F_OK) == 0;
}

const LoadedModule& module() {
  static const LoadedModule m = load();
  return m;
}

const CudaModuleApi& api() {
  const LoadedModule& m = module();
  if (!m.api) fail("the CUDA backend is not available: ", m.error);
  return *m.api;
}

}  // namespace

bool cuda_available() {
  return driver_present() && module().api && module().api->cuda_available();
}

std::string cuda_unavailable_reason() {
  if (!driver_present()) return "no NVIDIA driver (/dev/nvidiactl is absent)";
  if (!module().api) return "the CUDA backend module could not be loaded: " + module().error;
  return module().api->cuda_available() ? "" : "no CUDA device is visible";
}

std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& options) {
  return api().make_cuda_backend(options);
}

namespace cuda_tools {

bool has_cudnn() {
  return module().api && module().api->has_cudnn();
}
std::string device_summary() {
  return module().api ? module().api->device_summary() : "";
}
std::vector<double> time_nodes(Backend& backend, const std::vector<OpCall>& program, int passes) {
  return api().time_nodes(backend, program, passes);
}
double time_replay(Backend& backend, const std::vector<OpCall>& program, uint64_t id, int reps,
                   int rounds) {
  return api().time_replay(backend, program, id, reps, rounds);
}
std::string conv1d_path(Backend& backend, const OpCall& call) {
  return api().conv1d_path(backend, call);
}
Ceilings measure_ceilings(int gemm_n, size_t copy_bytes) {
  return api().measure_ceilings(gemm_n, copy_bytes);
}

}  // namespace cuda_tools
}  // namespace sr
