// bench_cpu_forward: times sr::Network::forward on the CPU backend for one architecture, batch and
// length, and (with --profile) every op of the same program one by one.
//
// FLOPs counted (multiply-add = 2 FLOPs; elementwise ops, pooling, layout and activations are not
// counted):
//   conv1d     2 * B * L * Cin * K * Cout          ('same': output length = input length; taps that
//                                                   fall entirely in the padding are still counted,
//                                                   as in docs COSTS.md)
//   lstm       2 * B * N * (Cin + H) * 4H          (input and recurrent GEMMs)
//   linear     2 * B * N * Din * Dout
//   attention  4 * B * N * N * D                   (Q K^T and A V over all heads)
// "GFLOP/s (conv)" divides the conv FLOPs alone by the forward time (the COSTS.md convention);
// "GFLOP/s (all)" divides every counted FLOP.
#include <cblas.h>
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "args.h"
#include "core/planner.h"
#include "cpu/ceilings.h"
#include "sr/backend.h"
#include "sr/io/npy.h"
#include "sr/model.h"
#include "sr/network.h"
#include "sr/weights.h"

#include "bench_util.h"

namespace {

using sr::bench::Clock;
using sr::bench::median;
using sr::bench::peak_rss_mib;
using sr::bench::process_cpu_s;
using sr::bench::seconds_since;
using json = nlohmann::json;

// The same program Network builds (graph, buffer plan, one OpCall per node), run op by op with a
// clock around each call. Weights are read in place from the host WeightFile (the CPU backend's
// upload is a memcpy, so the memory is equivalent). Returns per-node seconds (median over passes)
// and writes the output of the last pass into `output`.
struct NodeTiming {
  std::string name, op;
  std::string shape;
  double flops = 0;
  double seconds = 0;
};

std::vector<NodeTiming> profile_ops(const sr::WeightFile& file, const sr::ModelConfig& config,
                                    int64_t batch, int64_t length, const std::vector<float>& input,
                                    std::vector<float>& output, int passes) {
  // The graph Network runs: the fused inference graph.
  const sr::Graph graph = sr::fuse_for_inference(sr::build_graph(config, batch, length));
  const sr::BufferPlan plan = sr::plan_buffers(graph);
  std::unique_ptr<sr::Backend> backend = sr::make_cpu_backend();
  float* arena = backend->allocate(plan.arena_floats);
  const auto& values = graph.values();
  auto view = [&](int v) { return sr::value_view(graph, plan, arena, v); };
  const std::vector<sr::OpCall> program =
      sr::bind_program(graph, plan, arena, [&](const std::string& name) {
        const sr::HostWeight& w = file.tensors.at(name);
        return sr::WeightView{w.values.data(), w.dims};
      });
  std::vector<NodeTiming> timings;
  for (const sr::Node& node : graph.nodes()) {
    NodeTiming t;
    t.name = values[node.output].name;
    t.op = sr::op_name(node.op);
    t.shape = values[node.inputs[0]].shape.str() + " -> " + values[node.output].shape.str();
    t.flops = graph.node_flops(node);
    timings.push_back(t);
  }
  const sr::TensorView in = view(graph.input()), out = view(graph.output());
  std::vector<std::vector<double>> samples(program.size());
  for (int pass = 0; pass < passes; ++pass) {
    std::copy(input.begin(), input.end(), in.data);
    for (size_t i = 0; i < program.size(); ++i) {
      const auto t0 = Clock::now();
      backend->run({program[i]}, 0);  // one node: the CPU backend runs it and returns
      samples[i].push_back(seconds_since(t0));
    }
  }
  for (size_t i = 0; i < program.size(); ++i) timings[i].seconds = median(samples[i]);
  output.assign(out.data, out.data + out.numel());
  backend->release(arena);
  return timings;
}

int bench(int argc, char** argv) {
  std::string arch = "tfilm", model, input_path, json_out, save_input, save_output, save_model;
  int batch = 1, length = 0, warmup = 1, repeat = 3, threads = 0, seed = 1, profile_passes = 0,
      gemm_peak = 0;
  sr::cli::ArgParser p(
      "bench_cpu_forward", "bench_cpu_forward [options]",
      "Times Network::forward on the CPU backend (default config of --arch with init_weights seed "
      "1, or --model), on a seeded random input.");
  p.option("arch", 'a', "NAME", "tfilm, afilm or audiounet (ignored with --model)", &arch);
  p.option("model", 'm', "FILE", "weights file (.safetensors) instead of fresh weights", &model);
  p.option("batch", 'b', "B", "patches per forward", &batch);
  p.option("length", 'l', "L", "samples per patch (default: the model's patch length)", &length);
  p.option("warmup", 0, "N", "untimed forwards first", &warmup);
  p.option("repeat", 'n', "N", "timed forwards", &repeat);
  p.option("threads", 't', "T", "OpenMP and OpenBLAS threads (0: leave the environment's)",
           &threads);
  p.option("seed", 's', "N", "seed of the random input", &seed);
  p.option("input", 'i', "X.npy", "(B, L) float32 input instead of a random one (sets B, L)",
           &input_path);
  p.option("profile", 0, "N", "then run the program op by op N times; per-op median times",
           &profile_passes);
  p.option("gemm-peak", 0, "N", "also time an N x N x N sgemm (the BLAS ceiling)", &gemm_peak);
  p.option("json", 'j', "OUT", "write every number as JSON", &json_out);
  p.option("save-input", 0, "X.npy", "write the input (B, L) float32", &save_input);
  p.option("save-output", 0, "Y.npy", "write the output of the last timed forward", &save_output);
  p.option("save-model", 0, "M.safetensors", "write the weights used", &save_model);
  if (!p.parse(argc, argv)) return 0;
  if (batch < 1 || repeat < 1 || warmup < 0)
    throw sr::cli::UsageError("bad --batch/--repeat/--warmup");

  if (threads > 0) {
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
  }

  const auto t_load = Clock::now();
  sr::WeightFile file = model.empty()
                            ? sr::init_weights(sr::default_config(sr::parse_arch(arch)), 1)
                            : sr::load_weights(model);
  const double load_s = seconds_since(t_load);
  if (!save_model.empty()) sr::save_weights(save_model, file);

  std::unique_ptr<sr::Backend> backend = sr::make_cpu_backend();
  // Without --profile the file is not needed again: the network takes its tensors, so the peak
  // memory holds the weights once, as sr-infer's does.
  std::unique_ptr<sr::Network> owned =
      profile_passes > 0 ? std::make_unique<sr::Network>(file, *backend)
                         : std::make_unique<sr::Network>(std::move(file), *backend);
  sr::Network& net = *owned;
  const sr::ModelConfig& config = net.config();
  std::vector<float> input;
  if (!input_path.empty()) {
    sr::NpyArray x = sr::read_npy(input_path);
    if (x.dims.size() != 2) sr::fail(input_path, ": expected a (B, L) array");
    batch = static_cast<int>(x.dims[0]);
    length = static_cast<int>(x.dims[1]);
    input = std::move(x.values);
  }
  if (length == 0) length = config.patch_length;
  sr::check_input_length(config, length);
  if (input_path.empty()) {  // N(0, 0.1): speech-like level
    input.resize(static_cast<size_t>(batch) * length);
    std::mt19937_64 gen(static_cast<uint64_t>(seed));
    std::normal_distribution<float> noise(0.0f, 0.1f);
    for (float& v : input) v = noise(gen);
  }
  std::vector<float> output(input.size());
  if (!save_input.empty()) sr::write_npy(save_input, {{batch, length}, input});

  // FLOPs from the graph the network runs.
  const sr::Graph graph = sr::build_graph(config, batch, length);
  double conv_flops = 0, all_flops = 0;
  for (const sr::Node& node : graph.nodes()) {
    const double f = graph.node_flops(node);
    all_flops += f;
    if (node.op == sr::Op::conv1d) conv_flops += f;
  }

  // A BLAS probe before and after the forwards: on a shared machine it shows how much of the
  // machine the run had (the same sgemm is ~2x slower when another process holds a core).
  const double gemm_before = gemm_peak > 0 ? sr::cpu::sgemm_gflops(gemm_peak, 3) : 0.0;
  std::vector<double> times, cpu_times;
  const auto t_first = Clock::now();
  for (int i = 0; i < warmup + repeat; ++i) {
    const auto t0 = Clock::now();
    const double c0 = process_cpu_s();
    net.forward(input.data(), batch, length, output.data());
    if (i >= warmup) {
      times.push_back(seconds_since(t0));
      cpu_times.push_back(process_cpu_s() - c0);
    }
    if (i == 0) std::fprintf(stderr, "first forward (plans): %.3f s\n", seconds_since(t_first));
  }
  if (!save_output.empty()) sr::write_npy(save_output, {{batch, length}, output});

  const double med = median(times), best = *std::min_element(times.begin(), times.end());
  const double audio_s = static_cast<double>(batch) * length / 16000.0;
  json j;
  j["tool"] = "bench_cpu_forward";
  j["engine"] = "sr (CPU backend, OpenBLAS + OpenMP)";
  j["arch"] = sr::arch_name(config.arch);
  j["model"] = model.empty() ? "default config, init_weights seed 1" : model;
  j["input"] = input_path.empty() ? "N(0, 0.1), seed " + std::to_string(seed) : input_path;
  j["parameters"] = net.parameter_count();
  j["batch"] = batch;
  j["length"] = length;
  j["threads"] = {{"omp_max_threads", omp_get_max_threads()},
                  {"openblas_threads", openblas_get_num_threads()},
                  {"openblas_core", openblas_get_corename()}};
  const char* wait_policy = std::getenv("OMP_WAIT_POLICY");
  j["omp_wait_policy"] = wait_policy ? wait_policy : "(unset)";
  j["warmup"] = warmup;
  j["repeat"] = repeat;
  j["times_s"] = times;
  j["median_s"] = med;
  j["min_s"] = best;
  j["cpu_s_per_forward"] = median(cpu_times);  // ~threads x median_s when the cores are ours
  j["patches_per_s"] = batch / med;
  j["audio_s_per_s_16k"] = audio_s / med;  // real-time factor at 16 kHz
  j["gflop_conv"] = conv_flops / 1e9;
  j["gflop_all_counted"] = all_flops / 1e9;
  j["gflops_conv"] = conv_flops / med / 1e9;
  j["gflops_all"] = all_flops / med / 1e9;
  j["arena_bytes"] = net.arena_bytes();
  j["weights_load_or_init_s"] = load_s;
  j["peak_rss_mib_forward"] = peak_rss_mib();

  std::printf("%s  params %lld  batch %d x %d  threads omp %d / openblas %d (%s)\n",
              sr::arch_name(config.arch), static_cast<long long>(net.parameter_count()), batch,
              length, omp_get_max_threads(), openblas_get_num_threads(), openblas_get_corename());
  std::printf("forward: median %.4f s  min %.4f s  (%d runs after %d warmup)  cpu %.3f s/fwd\n",
              med, best, repeat, warmup, median(cpu_times));
  std::printf("  %.3f patches/s   %.3f s of 16 kHz audio per s (real-time factor)\n", batch / med,
              audio_s / med);
  std::printf("  %.2f GFLOP conv (%.2f all counted) per forward -> %.1f GFLOP/s conv, %.1f all\n",
              conv_flops / 1e9, all_flops / 1e9, conv_flops / med / 1e9, all_flops / med / 1e9);
  std::printf("  arena %.1f MiB   peak RSS %.1f MiB\n", net.arena_bytes() / 1048576.0,
              peak_rss_mib());

  if (profile_passes > 0) {
    std::vector<float> prof_out;
    auto nodes = profile_ops(file, config, batch, length, input, prof_out, profile_passes);
    double max_diff = 0;
    for (size_t i = 0; i < output.size(); ++i)
      max_diff = std::max(max_diff, static_cast<double>(std::abs(prof_out[i] - output[i])));
    std::map<std::string, std::pair<double, int>> by_op;
    double total = 0;
    json jn = json::array();
    for (const auto& n : nodes) {
      total += n.seconds;
      by_op[n.op].first += n.seconds;
      by_op[n.op].second += 1;
      jn.push_back({{"name", n.name},
                    {"op", n.op},
                    {"shape", n.shape},
                    {"seconds", n.seconds},
                    {"gflop", n.flops / 1e9},
                    {"gflops", n.seconds > 0 ? n.flops / n.seconds / 1e9 : 0.0}});
    }
    json jo = json::object();
    std::printf(
        "\nper-op profile (median of %d op-by-op passes; sum %.4f s; output max |diff| vs "
        "forward %.3g)\n",
        profile_passes, total, max_diff);
    std::vector<std::pair<std::string, std::pair<double, int>>> ops(by_op.begin(), by_op.end());
    std::sort(ops.begin(), ops.end(),
              [](auto& a, auto& b) { return a.second.first > b.second.first; });
    for (const auto& [op, st] : ops) {
      std::printf("  %-15s %3d nodes  %8.4f s  %5.1f%%\n", op.c_str(), st.second, st.first,
                  100.0 * st.first / total);
      jo[op] = {{"nodes", st.second}, {"seconds", st.first}, {"share", st.first / total}};
    }
    std::printf("  heaviest nodes:\n");
    std::vector<NodeTiming> sorted = nodes;
    std::sort(sorted.begin(), sorted.end(),
              [](const NodeTiming& a, const NodeTiming& b) { return a.seconds > b.seconds; });
    for (size_t i = 0; i < std::min<size_t>(16, sorted.size()); ++i) {
      const auto& n = sorted[i];
      std::printf("  %-28s %-14s %8.4f s  %5.1f%%", n.name.c_str(), n.op.c_str(), n.seconds,
                  100.0 * n.seconds / total);
      if (n.flops > 0) std::printf("  %6.1f GFLOP/s", n.flops / n.seconds / 1e9);
      std::printf("  %s\n", n.shape.c_str());
    }
    j["profile"] = {{"passes", profile_passes},
                    {"sum_s", total},
                    {"output_max_abs_diff_vs_forward", max_diff},
                    {"by_op", jo},
                    {"nodes", jn}};
  }
  if (gemm_peak > 0) {
    const double after = sr::cpu::sgemm_gflops(gemm_peak, 3);
    std::printf("\nsgemm %d^3: %.1f GFLOP/s before the forwards, %.1f after\n", gemm_peak,
                gemm_before, after);
    j["sgemm_probe"] = {{"n", gemm_peak}, {"gflops_before", gemm_before}, {"gflops_after", after}};
  }
  sr::bench::finish_json(j, json_out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return sr::cli::run_main("bench_cpu_forward", argv, [&] { return bench(argc, argv); });
}
