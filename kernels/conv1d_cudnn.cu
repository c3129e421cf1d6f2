// cuDNN baseline for conv1d (BackendOptions::conv_impl = cudnn): cudnnConvolutionForward on a
// 2-D NHWC view with H = 1, W = L, dilation and 'same' padding along W. Used by sr-bench to hold
// our kernels against the vendor library on the same shapes. The algorithm is found once per shape
// and precision (cudnnFind, during the eager warm-up run that precedes every graph capture),
// restricted to deterministic algorithms so graph replays stay bit-identical.
//   fp32: CUDNN_FMA_MATH (no tensor cores); tf32: CUDNN_TENSOR_OP_MATH on float tensors;
//   bf16: bf16 activations, filters and output, FP32 compute.
// cuDNN computes the plain convolution; bias and the fused epilogue (pool, activation, shuffle,
// strided store) are our conv_epilogue_kernel, except for a plain dense fp32/tf32 output, where
// cuDNN writes y and bias_act_cuda adds the bias. A strided x (a concatenation slice) is described
// to cuDNN by its strides; bf16 converts it to a dense copy first.
#include "conv1d_internal.cuh"
#include "ops_cuda.cuh"

#ifdef SR_HAVE_CUDNN

#include <cudnn.h>

#include <dlfcn.h>

#include <map>
#include <string>
#include <tuple>

namespace sr::cuda {

// cuDNN is loaded at run time (dlopen), not linked: it is a benchmark baseline, and a machine
// without it must still run the CUDA backend. The header gives the types and the signatures.
// clang-format off
#define SR_CUDNN_FUNCTIONS(X) \
  X(cudnnCreate) \
  X(cudnnDestroy) \
  X(cudnnSetStream) \
  X(cudnnGetErrorString) \
  X(cudnnCreateTensorDescriptor) \
  X(cudnnCreateFilterDescriptor) \
  X(cudnnCreateConvolutionDescriptor) \
  X(cudnnDestroyTensorDescriptor) \
  X(cudnnDestroyFilterDescriptor) \
  X(cudnnDestroyConvolutionDescriptor) \
  X(cudnnSetTensor4dDescriptor) \
  X(cudnnSetTensor4dDescriptorEx) \
  X(cudnnSetFilter4dDescriptor) \
  X(cudnnSetConvolution2dDescriptor) \
  X(cudnnSetConvolutionMathType) \
  X(cudnnFindConvolutionForwardAlgorithm) \
  X(cudnnConvolutionForward)
// clang-format on

struct CudnnApi {
#define SR_CUDNN_POINTER(name) decltype(&::name) name = nullptr;
  SR_CUDNN_FUNCTIONS(SR_CUDNN_POINTER)
#undef SR_CUDNN_POINTER
  std::string error;  // why it is not loaded; "" when it is
};

const CudnnApi& cudnn_api() {
  static const CudnnApi api = [] {
    CudnnApi a;
    void* lib = dlopen("libcudnn.so.9", RTLD_NOW | RTLD_LOCAL);
    if (!lib) lib = dlopen("libcudnn.so", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* why = dlerror();
      a.error = std::string("cannot load libcudnn.so.9: ") + (why ? why : "unknown error");
      return a;
    }
#define SR_CUDNN_LOAD(name)                                                    \
  a.name = reinterpret_cast<decltype(&::name)>(dlsym(lib, #name));             \
  if (!a.name) {                                                               \
    a.error = "libcudnn.so.9 has no " #name " (another cuDNN major version?)"; \
    return a;                                                                  \
  }
    SR_CUDNN_FUNCTIONS(SR_CUDNN_LOAD)
#undef SR_CUDNN_LOAD
    return a;
  }();
  return api;
}

bool cudnn_loadable() {
  return cudnn_api().error.empty();
}

namespace {
const CudnnApi& cudnn() {
  const CudnnApi& a = cudnn_api();
  if (!a.error.empty()) fail("the cuDNN baseline is not available: ", a.error);
  return a;
}
}  // namespace

#define SR_CUDNN_CHECK(expr)                                                                 \
  do {                                                                                       \
    cudnnStatus_t sr_cudnn_status_ = (expr);                                                 \
    if (sr_cudnn_status_ != CUDNN_STATUS_SUCCESS)                                            \
      throw ::sr::Error(                                                                     \
          ::sr::format("cuDNN error: ", cudnn().cudnnGetErrorString(sr_cudnn_status_), " [", \
                       #expr, " at ", __FILE__, ":", __LINE__, "]"));                        \
  } while (0)

struct CudnnState {
  cudnnHandle_t handle = nullptr;
  struct Choice {
    bool supported = false;
    cudnnConvolutionFwdAlgo_t algo{};
    cudnnMathType_t math{};
    size_t workspace = 0;
  };
  // B, L, Cin, Cout, K, d, precision, x row stride, x 16-byte aligned (the search runs on buffers
  // of its own: an algorithm found for aligned data must not be used on a misaligned slice)
  using Key = std::tuple<int, int, int, int, int, int, int, int, bool>;
  std::map<Key, Choice> choices;
};

void destroy_cudnn_state(CudnnState* state) {
  if (!state) return;
  if (state->handle) cudnn_api().cudnnDestroy(state->handle);  // a handle means it loaded
  delete state;
}

namespace {

// bf16 always reads a dense, aligned converted copy of x.
CudnnState::Key cudnn_key(const ConvGeometry& g, const float* x, Precision precision) {
  const bool bf16 = precision == Precision::bf16;
  return {g.B,
          g.L,
          g.Cin,
          g.Cout,
          g.K,
          g.dilation,
          static_cast<int>(precision),
          bf16 ? g.Cin : g.x_ld(),
          bf16 || aligned16(x)};
}

// RAII for the descriptors of one call (host objects only: cheap, and legal during capture).
struct Descriptors {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  Descriptors() {
    SR_CUDNN_CHECK(cudnn().cudnnCreateTensorDescriptor(&x));
    SR_CUDNN_CHECK(cudnn().cudnnCreateTensorDescriptor(&y));
    SR_CUDNN_CHECK(cudnn().cudnnCreateFilterDescriptor(&w));
    SR_CUDNN_CHECK(cudnn().cudnnCreateConvolutionDescriptor(&conv));
  }
  ~Descriptors() {
    if (conv) cudnn().cudnnDestroyConvolutionDescriptor(conv);
    if (w) cudnn().cudnnDestroyFilterDescriptor(w);
    if (y) cudnn().cudnnDestroyTensorDescriptor(y);
    if (x) cudnn().cudnnDestroyTensorDescriptor(x);
  }
  Descriptors(const Descriptors&) = delete;
  Descriptors& operator=(const Descriptors&) = delete;
};

}  // namespace

bool conv1d_cudnn_fwd(const OpCall& call, const ConvGeometry& g, const ConvEpilogue& e,
                      CudaContext& ctx) {
  const TensorView& xv = call.inputs[0];
  const WeightView& wv = call.weights[0];
  const int B = g.B, L = g.L, Cin = g.Cin, Cout = g.Cout, K = g.K, d = g.dilation;
  const int ldx = g.x_ld();
  const Precision precision = ctx.options.precision;
  const bool bf16 = precision == Precision::bf16;
  const cudnnDataType_t dtype = bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;

  if (!ctx.cudnn) {
    auto* state = new CudnnState;
    if (cudnn().cudnnCreate(&state->handle) != CUDNN_STATUS_SUCCESS) {
      delete state;
      fail("cuDNN could not be initialised (cudnnCreate failed)");
    }
    ctx.cudnn = state;
  }
  CudnnState& st = *ctx.cudnn;
  SR_CUDNN_CHECK(cudnn().cudnnSetStream(st.handle, ctx.stream));

  Descriptors desc;
  // bf16 reads a dense converted copy; float reads x in place, rows ldx apart (NHWC strides).
  const int x_row = bf16 ? Cin : ldx;
  SR_CUDNN_CHECK(cudnn().cudnnSetTensor4dDescriptorEx(desc.x, dtype, B, Cin, 1, L, L * x_row, 1,
                                                      L * x_row, x_row));
  SR_CUDNN_CHECK(
      cudnn().cudnnSetTensor4dDescriptor(desc.y, CUDNN_TENSOR_NHWC, dtype, B, Cout, 1, L));
  // NHWC filters are KRSC: (Cout, R = 1, S = K, Cin).
  SR_CUDNN_CHECK(
      cudnn().cudnnSetFilter4dDescriptor(desc.w, dtype, CUDNN_TENSOR_NHWC, Cout, Cin, 1, K));
  SR_CUDNN_CHECK(cudnn().cudnnSetConvolution2dDescriptor(
      desc.conv, 0, d * (K - 1) / 2, 1, 1, 1, d, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  const cudnnMathType_t wanted =
      precision == Precision::fp32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH;
  SR_CUDNN_CHECK(cudnn().cudnnSetConvolutionMathType(desc.conv, wanted));

  const CudnnState::Key key = cudnn_key(g, xv.data, precision);
  auto it = st.choices.find(key);
  if (it == st.choices.end()) {
    SR_CHECK(!ctx.capturing, "cuDNN algorithm search during a graph capture");
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int returned = 0;
    // A configuration cuDNN does not support at all (BF16 with one input channel, say) is reported
    // by the search itself: remember it as unsupported, and the caller runs ours.
    const cudnnStatus_t found = cudnn().cudnnFindConvolutionForwardAlgorithm(
        st.handle, desc.x, desc.w, desc.conv, desc.y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned,
        perf);
    if (found != CUDNN_STATUS_SUCCESS) {
      returned = 0;
      SR_CUDA_CHECK(cudaGetLastError());  // but not a CUDA fault hiding behind it
    }
    CudnnState::Choice choice;
    for (int i = 0; i < returned; ++i) {  // sorted fastest first
      if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].determinism != CUDNN_DETERMINISTIC)
        continue;
      // fp32 must not silently become TF32 (CUDNN_DEFAULT_MATH permits TF32 on Ampere and later).
      if (precision == Precision::fp32 && perf[i].mathType != CUDNN_FMA_MATH) continue;
      choice.supported = true;
      choice.algo = perf[i].algo;
      choice.math = perf[i].mathType;
      choice.workspace = perf[i].memory;
      break;
    }
    it = st.choices.emplace(key, choice).first;
  }
  const CudnnState::Choice& choice = it->second;
  if (!choice.supported) return false;
  SR_CUDNN_CHECK(cudnn().cudnnSetConvolutionMathType(desc.conv, choice.math));

  const float* x = xv.data;
  const float* w = wv.data;
  const float* bias = call.weights[1].data;
  float* y = call.output.data;
  const int64_t rows = static_cast<int64_t>(B) * L;
  ScratchLayout layout;
  const size_t ws_off = layout.add<char>(choice.workspace);
  const size_t xb_off = bf16 ? layout.add<__nv_bfloat16>(static_cast<size_t>(rows) * Cin) : 0;
  const size_t yb_off = bf16 ? layout.add<__nv_bfloat16>(static_cast<size_t>(rows) * Cout) : 0;
  const bool needs_z = !bf16 && !(e.identity() && e.ldy == Cout);
  const size_t z_off = needs_z ? layout.add<float>(static_cast<size_t>(rows) * Cout) : 0;
  void* base = ctx.scratch(layout.bytes());
  const int64_t w_numel = wv.numel();
  const void* filter = ctx.derived(
      w, w_numel, bf16 ? DerivedWeight::cudnn_bf16 : DerivedWeight::cudnn_fp32,
      static_cast<size_t>(w_numel) * (bf16 ? 2 : 4), [&](void* dst) {
        if (bf16)
          conv_weight_to_krsc_bf16(ctx, w, static_cast<__nv_bfloat16*>(dst), K, Cin, Cout);
        else
          conv_weight_to_krsc(ctx, w, static_cast<float*>(dst), K, Cin, Cout);
      });

  const float alpha = 1.0f, beta = 0.0f;
  void* ws = choice.workspace > 0 ? scratch_at<char>(base, ws_off) : nullptr;
  if (!bf16) {
    const bool direct = e.identity() && e.ldy == Cout;
    float* out = direct ? y : scratch_at<float>(base, z_off);
    SR_CUDNN_CHECK(cudnn().cudnnConvolutionForward(st.handle, &alpha, desc.x, x, desc.w, filter,
                                                   desc.conv, choice.algo, ws, choice.workspace,
                                                   &beta, desc.y, out));
    if (direct)
      bias_act_cuda(ctx, y, bias, rows, Cout, /*relu=*/false);
    else
      conv_epilogue(ctx, out, 1, bias, y, g, e);
    return true;
  }
  __nv_bfloat16* xb = scratch_at<__nv_bfloat16>(base, xb_off);
  __nv_bfloat16* yb = scratch_at<__nv_bfloat16>(base, yb_off);
  convert_rows_to_bf16(ctx, x, ldx, xb, rows, Cin);
  SR_CUDNN_CHECK(cudnn().cudnnConvolutionForward(st.handle, &alpha, desc.x, xb, desc.w, filter,
                                                 desc.conv, choice.algo, ws, choice.workspace,
                                                 &beta, desc.y, yb));
  conv_epilogue(ctx, yb, bias, y, g, e);
  return true;
}

int conv1d_cudnn_state(const OpCall& call, const CudaContext& ctx) {
  if (!ctx.cudnn) return -1;
  const ConvGeometry g = conv_geometry(call);
  auto it = ctx.cudnn->choices.find(cudnn_key(g, call.inputs[0].data, ctx.options.precision));
  return it == ctx.cudnn->choices.end() ? -1 : (it->second.supported ? 1 : 0);
}

}  // namespace sr::cuda

#else  // no cuDNN in this build

namespace sr::cuda {

struct CudnnState {};
void destroy_cudnn_state(CudnnState*) {}
bool cudnn_loadable() {
  return false;
}

bool conv1d_cudnn_fwd(const OpCall&, const ConvGeometry&, const ConvEpilogue&, CudaContext&) {
  fail("this build has no cuDNN (it was not found at configure time): use --conv-impl ours");
}

int conv1d_cudnn_state(const OpCall&, const CudaContext&) {
  return -1;
}

}  // namespace sr::cuda

#endif
