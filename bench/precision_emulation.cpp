// bench_precision_emulation: what the CUDA backend's reduced precisions cost in accuracy, emulated
// on the CPU, so that the choice of the default precision rests on a measurement before any GPU
// run. The fused inference graph runs on the CPU backend node by node; in `tf32` and `bf16` modes
// the inputs and weights of exactly the ops the CUDA backend runs on tensor cores are rounded
// first, as the hardware rounds them, and the products accumulate in FP32 as there:
//   conv1d on the tensor-core path (Cin >= 8, Cout > 8, Cin % 32 == 0, Cout % 8 == 0: the dispatch
//     rule of kernels/conv1d_tiling.h): x and w to TF32 (cvt.rna: nearest, ties away from zero, 10
//     mantissa bits) or to BF16 (nearest even, 7 bits).
// Everything else stays FP32, as on the GPU (dense layers included: kernels/attention.cu). Not
// emulated: the GPU's summation order (FP32 rounding, ~1e-7 relative, far below these effects).
// Reported: the NMSE of the network's residual net(x) = output - input against the FP32 run
// (docs/BENCHMARKS.md bounds it at 1e-4).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "args.h"
#include "conv1d_tiling.h"
#include "core/planner.h"
#include "sr/backend.h"
#include "sr/io/npy.h"
#include "sr/model.h"
#include "sr/weights.h"

namespace {

using json = nlohmann::json;

enum class Mode { fp32, tf32, bf16 };

float round_tf32(float v) {  // cvt.rna.tf32.f32: add half an ulp of the 10-bit mantissa, truncate
  uint32_t u;
  std::memcpy(&u, &v, 4);
  if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;
  std::memcpy(&v, &u, 4);
  return v;
}

float round_bf16(float v) {  // __float2bfloat16_rn: nearest, ties to even, 7-bit mantissa
  uint32_t u;
  std::memcpy(&u, &v, 4);
  if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  std::memcpy(&v, &u, 4);
  return v;
}

bool g_all_convs = false;  // --all-convs

// kernels/conv1d.cu's own dispatch rule (the alignment checks always pass for planned buffers).
bool on_tensor_cores(const sr::OpCall& call) {
  if (g_all_convs) return true;
  const sr::cuda::ConvGeometry g{static_cast<int>(call.inputs[0].shape.b),
                                 static_cast<int>(call.inputs[0].shape.l),
                                 static_cast<int>(call.inputs[0].shape.c),
                                 static_cast<int>(call.weights[0].dims.at(2)),
                                 call.params.kernel,
                                 call.params.dilation};
  return sr::cuda::conv_kernel(g) == sr::cuda::ConvKernel::gemm && sr::cuda::mma_supported(g);
}

// A dense, rounded copy of a (possibly strided) view.
std::vector<float> rounded(const sr::TensorView& v, float (*round)(float)) {
  std::vector<float> out(static_cast<size_t>(v.numel()));
  const int64_t rows = v.shape.b * v.shape.l, c = v.shape.c, ld = v.row_stride();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < c; ++k) out[static_cast<size_t>(r * c + k)] = round(v.data[r * ld + k]);
  return out;
}

std::vector<float> rounded(const sr::WeightView& w, float (*round)(float)) {
  std::vector<float> out(w.data, w.data + w.numel());
  for (float& x : out) x = round(x);
  return out;
}

// Runs the program node by node; in tf32/bf16 modes the tensor-core ops get rounded operands.
void run(sr::Backend& cpu, const std::vector<sr::OpCall>& program, Mode mode) {
  for (sr::OpCall call : program) {
    std::vector<float> x, w;
    float (*round)(float) = nullptr;
    if (mode != Mode::fp32 && call.op == sr::Op::conv1d && on_tensor_cores(call))
      round = mode == Mode::tf32 ? round_tf32 : round_bf16;
    if (round) {
      x = rounded(call.inputs[0], round);
      w = rounded(call.weights[0], round);
      call.inputs[0] = {x.data(), call.inputs[0].shape};
      call.weights[0] = {w.data(), call.weights[0].dims};
    }
    cpu.run({call}, 0);
  }
}

int bench(int argc, char** argv) {
  std::string arch = "tfilm", model, json_out, input_path;
  int batch = 2, length = 0, seed = 1, weights_seed = 1;
  bool uniform = false;
  sr::cli::ArgParser p("bench_precision_emulation", "bench_precision_emulation [options]",
                       "The accuracy of the CUDA backend's tf32 and bf16 modes, emulated on the "
                       "CPU: residual NMSE against FP32 (see the header of "
                       "bench/precision_emulation.cpp).");
  p.option("arch", 'a', "NAME", "tfilm, afilm or audiounet (ignored with --model)", &arch);
  p.option("model", 'm', "FILE", "weights file (.safetensors) instead of init_weights(seed 1)",
           &model);
  p.option("batch", 'b', "B", "patches", &batch);
  p.option("length", 'l', "L", "samples per patch (default: the model's patch length)", &length);
  p.option("seed", 's', "N", "seed of the input", &seed);
  p.option("input", 'i', "FILE",
           "network inputs (B, L) float32 .npy instead of noise (sets --batch "
           "and --length)",
           &input_path);
  p.flag("uniform", 0, "input U(-0.3, 0.3) (as the GPU network tests) instead of N(0, 0.1)",
         &uniform);
  p.option("weights-seed", 0, "N", "init_weights seed (without --model)", &weights_seed);
  p.flag("all-convs", 0,
         "round the operands of every convolution (a bound: as if the first and last layers, "
         "which run in FP32, ran on tensor cores too)",
         &g_all_convs);
  p.option("json", 'j', "OUT", "write the numbers as JSON", &json_out);
  if (!p.parse(argc, argv)) return 0;

  sr::WeightFile file;
  sr::ModelConfig config;
  if (!model.empty()) {
    file = sr::load_weights(model);
    config = sr::config_from_metadata(file.metadata);
  } else {
    config = sr::default_config(sr::parse_arch(arch));
    file = sr::init_weights(config, static_cast<uint64_t>(weights_seed));
  }
  sr::NpyArray given;
  if (!input_path.empty()) {
    given = sr::read_npy(input_path);
    if (given.dims.size() != 2) sr::fail(input_path, ": expected a (B, L) array");
    batch = static_cast<int>(given.dims[0]);
    length = static_cast<int>(given.dims[1]);
  }
  if (length == 0) length = static_cast<int>(config.patch_length);
  const sr::Graph graph = sr::fuse_for_inference(sr::build_graph(config, batch, length));
  const sr::BufferPlan plan = sr::plan_buffers(graph);
  auto cpu = sr::make_cpu_backend();
  float* arena = cpu->allocate(plan.arena_floats);
  const std::vector<sr::OpCall> program =
      sr::bind_program(graph, plan, arena, [&](const std::string& name) {
        const sr::HostWeight& w = file.tensors.at(name);
        return sr::WeightView{w.values.data(), w.dims};
      });
  const sr::TensorView in = sr::value_view(graph, plan, arena, graph.input());
  const sr::TensorView out = sr::value_view(graph, plan, arena, graph.output());

  std::vector<float> input(static_cast<size_t>(batch) * length);
  std::mt19937_64 gen(static_cast<uint64_t>(seed));
  std::normal_distribution<float> normal(0.0f, 0.1f);
  std::uniform_real_distribution<float> flat(-0.3f, 0.3f);
  for (float& v : input) v = uniform ? flat(gen) : normal(gen);
  if (!input_path.empty()) input = given.values;

  int tensor_core_convs = 0, convs = 0;
  for (const sr::OpCall& call : program)
    if (call.op == sr::Op::conv1d) {
      ++convs;
      tensor_core_convs += on_tensor_cores(call);
    }
  auto forward = [&](Mode mode) {
    std::copy(input.begin(), input.end(), in.data);
    run(*cpu, program, mode);
    std::vector<double> residual(input.size());
    for (size_t i = 0; i < input.size(); ++i) residual[i] = double(out.data[i]) - input[i];
    return residual;
  };
  const std::vector<double> ref = forward(Mode::fp32);
  double ref_energy = 0;
  for (double r : ref) ref_energy += r * r;
  std::printf("%s, %d x %d, %d of %d convolutions on the tensor-core path, residual RMS %.3e\n",
              sr::arch_name(config.arch), batch, length, tensor_core_convs, convs,
              std::sqrt(ref_energy / static_cast<double>(ref.size())));
  std::printf("%-6s %16s %16s\n", "mode", "residual NMSE", "max abs err");
  json j = {{"arch", sr::arch_name(config.arch)},
            {"model", model.empty() ? "init_weights(1)" : model},
            {"batch", batch},
            {"length", length},
            {"tensor_core_convs", tensor_core_convs},
            {"convs", convs},
            {"all_convs_rounded", g_all_convs}};
  for (Mode mode : {Mode::tf32, Mode::bf16}) {
    const std::vector<double> got = forward(mode);
    double err = 0, max_abs = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      err += (got[i] - ref[i]) * (got[i] - ref[i]);
      max_abs = std::max(max_abs, std::fabs(got[i] - ref[i]));
    }
    const double nmse = err / std::max(ref_energy, 1e-300);
    const char* name = mode == Mode::tf32 ? "tf32" : "bf16";
    std::printf("%-6s %16.3e %16.3e\n", name, nmse, max_abs);
    j[name] = {{"residual_nmse", nmse}, {"max_abs_err", max_abs}};
  }
  cpu->release(arena);
  if (!json_out.empty()) {
    std::ofstream f(json_out);
    f << j.dump(2) << "\n";
    if (!f) sr::fail("writing ", json_out, " failed");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return sr::cli::run_main("bench_precision_emulation", argv, [&] { return bench(argc, argv); });
}
