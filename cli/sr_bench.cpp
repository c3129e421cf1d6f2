// sr-bench: whole-network throughput and latency on the CPU or CUDA backend, per-op times, our
// convolution against cuDNN per layer shape, and the device's own ceilings.
//
// FLOPs (multiply-add = 2), from the graph the network runs (as bench/cpu_forward.cpp counts them):
//   conv1d 2*B*L*Cin*K*Cout, lstm 2*B*N*(Cin+H)*4H, linear 2*B*N*Din*Dout, attention 4*B*N*N*D.
// "TFLOP/s" divides the convolution FLOPs (227 GFLOP per second of 16 kHz audio for the default
// network, spec/COSTS.md) by the time; "node GB/s" divides the bytes every node reads (inputs and
// weights) and writes (its output) once by the time: a traffic measure, not the network's minimum.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "args.h"
#include "core/planner.h"
#include "cpu/ceilings.h"
#include "cuda_tools.h"
#include "sr/backend.h"
#include "sr/model.h"
#include "sr/weights.h"

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
using sr::cli::UsageError;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

std::vector<int> int_list(const std::string& flag, const std::string& s, long lo, long hi) {
  std::vector<int> out;
  for (const std::string& item : split_list(s))
    out.push_back(sr::cli::parse_int(flag, item, lo, hi));
  if (out.empty()) throw UsageError(flag + " needs at least one value");
  return out;
}

double node_bytes(const sr::Node& node, const std::vector<sr::Value>& values,
                  const std::map<std::string, std::vector<int64_t>>& weights) {
  double floats = static_cast<double>(values[node.output].shape.numel());
  for (int v : node.inputs) floats += static_cast<double>(values[v].shape.numel());
  for (const std::string& name : node.weights) {
    double n = 1;
    for (int64_t d : weights.at(name)) n *= static_cast<double>(d);
    floats += n;
  }
  return 4.0 * floats;
}

// One backend with the network's weights uploaded once.
struct BenchBackend {
  std::string name;  // "cpu", "cuda tf32", "cuda tf32 cudnn"
  std::unique_ptr<sr::Backend> backend;
  std::map<std::string, float*> weights;
  ~BenchBackend() {
    for (auto& [n, p] : weights) backend->release(p);
  }
};

// The program Network builds (graph, buffer plan, one OpCall per node) for one shape.
struct BenchProgram {
  sr::Backend* backend = nullptr;
  sr::Graph graph;
  float* arena = nullptr;
  std::vector<sr::OpCall> program;
  sr::TensorView input, output;
  uint64_t id = 0;
  double conv_flops = 0, all_flops = 0, bytes = 0;
  BenchProgram() = default;
  BenchProgram(const BenchProgram&) = delete;
  BenchProgram& operator=(const BenchProgram&) = delete;
  ~BenchProgram() {
    if (arena) backend->release(arena);
  }
};

uint64_t next_id() {
  static uint64_t id = 0;
  return ++id;
}

std::unique_ptr<BenchProgram> make_program(BenchBackend& bb, const sr::ModelConfig& config,
                                           int batch, int length, bool fuse) {
  auto p = std::make_unique<BenchProgram>();
  p->backend = bb.backend.get();
  p->graph = sr::build_graph(config, batch, length);
  // FLOPs of the convolutions as the plain graph has them (the fused graph does the same work).
  for (const sr::Node& node : p->graph.nodes()) {
    const double f = p->graph.node_flops(node);
    p->all_flops += f;
    if (node.op == sr::Op::conv1d) p->conv_flops += f;
  }
  if (fuse) p->graph = sr::fuse_for_inference(p->graph);
  const sr::BufferPlan plan = sr::plan_buffers(p->graph);
  p->arena = bb.backend->allocate(plan.arena_floats);
  p->program = sr::bind_program(p->graph, plan, p->arena, [&](const std::string& name) {
    return sr::WeightView{bb.weights.at(name), p->graph.weights().at(name)};
  });
  for (const sr::Node& node : p->graph.nodes())
    p->bytes += node_bytes(node, p->graph.values(), p->graph.weights());
  p->input = sr::value_view(p->graph, plan, p->arena, p->graph.input());
  p->output = sr::value_view(p->graph, plan, p->arena, p->graph.output());
  p->id = next_id();
  return p;
}

struct Options {
  std::string arch = "tfilm", model, backend = "auto", precision = "default", conv_impl = "ours";
  std::string batch = "default", length = "default", json_out;
  int warmup = -1, repeat = -1, seed = 1, threads = 0;
  bool profile = false, conv_compare = false, ceilings = false, unfused = false;
};

struct Result {
  std::string backend;
  int batch = 0, length = 0;
  double e2e_ms = 0, device_ms = 0;  // device_ms: CUDA graph replay (0 on the CPU)
  double patches_per_s = 0, rtf = 0, tflops = 0, gbps = 0;
};

// "conv1d+pool2+leaky_relu+subpixel" for a fused convolution, the op name otherwise.
std::string op_label(const sr::Node& node) {
  std::string s = sr::op_name(node.op);
  if (node.op != sr::Op::conv1d) return s;
  if (node.params.pool2) s += "+pool2";
  if (node.params.act == sr::Activation::relu) s += "+relu";
  if (node.params.act == sr::Activation::leaky_relu) s += "+leaky_relu";
  if (node.params.shuffle) s += "+subpixel";
  return s;
}

// Per-node milliseconds on the CPU: the program node by node (each run() returns when the node is
// done), the median of `passes` passes after one untimed pass.
std::vector<double> time_nodes_cpu(sr::Backend& backend, const std::vector<sr::OpCall>& program,
                                   int passes) {
  std::vector<std::vector<double>> samples(program.size());
  for (int pass = 0; pass <= passes; ++pass) {
    for (size_t i = 0; i < program.size(); ++i) {
      const auto t0 = Clock::now();
      backend.run({program[i]}, 0);
      if (pass > 0) samples[i].push_back(seconds_since(t0) * 1e3);
    }
  }
  std::vector<double> ms;
  for (const auto& s : samples) ms.push_back(median(s));
  return ms;
}

void print_node_profile(const BenchProgram& p, const std::vector<double>& ms, bool cuda,
                        json& out) {
  std::map<std::string, std::pair<double, int>> by_op;
  double total = 0;
  json nodes = json::array();
  const auto& values = p.graph.values();
  for (size_t i = 0; i < ms.size(); ++i) {
    const sr::Node& node = p.graph.nodes()[i];
    total += ms[i];
    by_op[op_label(node)].first += ms[i];
    by_op[op_label(node)].second += 1;
    const double f = p.graph.node_flops(node);
    nodes.push_back(
        {{"name", values[node.output].name},
         {"op", op_label(node)},
         {"shape", values[node.inputs[0]].shape.str() + " -> " + values[node.output].shape.str()},
         {"ms", ms[i]},
         {"tflops", ms[i] > 0 ? f / (ms[i] * 1e-3) / 1e12 : 0.0}});
  }
  std::printf("\nper-op times (%s; sum %.3f ms)\n",
              cuda ? "eager, CUDA events per node" : "node by node, host clock", total);
  std::vector<std::pair<std::string, std::pair<double, int>>> ops(by_op.begin(), by_op.end());
  std::sort(ops.begin(), ops.end(),
            [](auto& a, auto& b) { return a.second.first > b.second.first; });
  json jo = json::object();
  for (const auto& [op, st] : ops) {
    std::printf("  %-32s %3d nodes  %9.3f ms  %5.1f%%\n", op.c_str(), st.second, st.first,
                100.0 * st.first / total);
    jo[op] = {{"nodes", st.second}, {"ms", st.first}, {"share", st.first / total}};
  }
  std::vector<size_t> order(ms.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ms[a] > ms[b]; });
  std::printf("  heaviest nodes:\n");
  for (size_t k = 0; k < std::min<size_t>(12, order.size()); ++k) {
    const json& n = nodes[order[k]];
    // TFLOP/s on a GPU, GFLOP/s on the CPU.
    std::printf("  %-28s %-32s %9.3f ms  %7.1f %s  %s\n", n["name"].get<std::string>().c_str(),
                n["op"].get<std::string>().c_str(), n["ms"].get<double>(),
                n["tflops"].get<double>() * (cuda ? 1.0 : 1e3), cuda ? "TFLOP/s" : "GFLOP/s",
                n["shape"].get<std::string>().c_str());
  }
  out = {{"sum_ms", total}, {"by_op", jo}, {"nodes", nodes}};
}

// Our convolution against cuDNN on each distinct conv shape of the graph, one node at a time.
json conv_compare(const sr::Graph& graph, const std::vector<sr::Precision>& precisions, int reps) {
  struct Shape {
    int64_t b, l, cin, cout, k, d;
    std::string name;
  };
  std::vector<Shape> shapes;
  for (const sr::Node& node : graph.nodes()) {
    if (node.op != sr::Op::conv1d) continue;
    const auto& w = graph.weights().at(node.weights[0]);
    const sr::Shape in = graph.values()[node.inputs[0]].shape;
    Shape s{in.b, in.l, w[1], w[2], w[0], node.params.dilation, graph.values()[node.output].name};
    bool seen = false;
    for (const Shape& t : shapes)
      seen |= t.b == s.b && t.l == s.l && t.cin == s.cin && t.cout == s.cout && t.k == s.k &&
              t.d == s.d;
    if (!seen) shapes.push_back(s);
  }
  json out = json::array();
  std::printf("\nconv1d, ours vs cuDNN (CUDA graph replays of one node; ms per call)\n");
  std::printf("  %-18s %-34s %-9s %9s %8s %9s %8s %7s  %s\n", "layer", "shape (B,L,Cin->Cout,K,d)",
              "precision", "ours ms", "TFLOP/s", "cudnn ms", "TFLOP/s", "ratio", "our kernel");
  for (sr::Precision precision : precisions) {
    sr::BackendOptions o_ours, o_cudnn;
    o_ours.precision = o_cudnn.precision = precision;
    o_cudnn.conv_impl = sr::ConvImpl::cudnn;
    auto ours = sr::make_cuda_backend(o_ours);
    auto cudnn = sr::make_cuda_backend(o_cudnn);
    for (const Shape& s : shapes) {
      const double flops = 2.0 * s.b * s.l * s.cin * s.k * s.cout;
      std::mt19937 gen(7);
      std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
      auto random = [&](size_t n) {
        std::vector<float> v(n);
        for (float& x : v) x = dist(gen);
        return v;
      };
      const std::vector<float> x = random(size_t(s.b * s.l * s.cin));
      const std::vector<float> w = random(size_t(s.k * s.cin * s.cout));
      const std::vector<float> bias = random(size_t(s.cout));
      double t[2] = {0, 0};
      std::string path, error;
      sr::Backend* backends[2] = {ours.get(), cudnn.get()};
      for (int i = 0; i < 2; ++i) {
        sr::Backend& be = *backends[i];
        float* dx = be.allocate(x.size());
        float* dw = be.allocate(w.size());
        float* db = be.allocate(bias.size());
        float* dy = be.allocate(size_t(s.b * s.l * s.cout));
        be.upload(dx, x.data(), x.size());
        be.upload(dw, w.data(), w.size());
        be.upload(db, bias.data(), bias.size());
        sr::OpCall call;
        call.op = sr::Op::conv1d;
        call.params.kernel = int(s.k);
        call.params.dilation = int(s.d);
        call.inputs[0] = {dx, {s.b, s.l, s.cin}};
        call.weights[0] = {dw, {s.k, s.cin, s.cout}};
        call.weights[1] = {db, {s.cout}};
        call.output = {dy, {s.b, s.l, s.cout}};
        try {
          t[i] = sr::cuda_tools::time_replay(be, {call}, next_id(), reps);
          // After the run, so the cuDNN backend knows whether cuDNN had an algorithm.
          path += (i == 0 ? "" : "; cuDNN column: ") + sr::cuda_tools::conv1d_path(be, call);
        } catch (const sr::Error& e) {
          error = e.what();
          t[i] = 0;
        }
        for (float* p : {dx, dw, db, dy}) be.release(p);
      }
      char shape[64];
      std::snprintf(shape, sizeof shape, "(%lld,%lld,%lld->%lld,%lld,%lld)", (long long)s.b,
                    (long long)s.l, (long long)s.cin, (long long)s.cout, (long long)s.k,
                    (long long)s.d);
      auto tf = [&](double ms) { return ms > 0 ? flops / (ms * 1e-3) / 1e12 : 0.0; };
      std::printf("  %-18s %-34s %-9s %9.3f %8.1f %9.3f %8.1f %7.2f  %s%s\n", s.name.c_str(), shape,
                  sr::precision_name(precision), t[0], tf(t[0]), t[1], tf(t[1]),
                  t[0] > 0 && t[1] > 0 ? t[1] / t[0] : 0.0, path.c_str(),
                  error.empty() ? "" : ("  error: " + error).c_str());
      out.push_back({{"layer", s.name},
                     {"shape", shape},
                     {"precision", sr::precision_name(precision)},
                     {"ours_ms", t[0]},
                     {"cudnn_ms", t[1]},
                     {"ours_tflops", tf(t[0])},
                     {"cudnn_tflops", tf(t[1])},
                     {"our_kernel", path},
                     {"error", error}});
    }
  }
  return out;
}

int bench(int argc, char** argv) {
  Options o;
  sr::cli::ArgParser p(
      "sr-bench", "sr-bench [options]",
      "Whole-network throughput and latency of the default (or a given) model on the CPU or CUDA\n"
      "backend, for lists of batch sizes, lengths and precisions; optionally per-op times, our\n"
      "convolution against cuDNN per layer shape, and the device's GEMM and copy ceilings.\n"
      "Inputs are seeded N(0, 0.1) noise; weights are init_weights(seed 1) unless --model.");
  p.option("arch", 'a', "NAME", "tfilm, afilm or audiounet (ignored with --model)", &o.arch);
  p.option("model", 'm', "FILE", "weights (.safetensors) instead of fresh weights", &o.model);
  p.option("backend", 'b', "NAME", "auto, cpu or cuda", &o.backend);
  p.option("precision", 0, "LIST",
           "CUDA precisions, comma-separated (fp32,tf32,bf16); default: all three", &o.precision);
  p.option("conv-impl", 0, "LIST", "CUDA convolutions: ours, cudnn or ours,cudnn", &o.conv_impl);
  p.option("batch", 0, "LIST", "batch sizes; default: 1 on the CPU, 1,8,32 on CUDA", &o.batch);
  p.option("length", 0, "LIST", "samples per patch; default: the model's patch length", &o.length);
  p.option("warmup", 0, "N", "untimed forwards per configuration (default: 1 CPU, 3 CUDA)",
           &o.warmup);
  p.option("repeat", 'n', "N", "timed forwards per configuration (default: 3 CPU, 20 CUDA)",
           &o.repeat);
  p.option("seed", 's', "N", "seed of the random input", &o.seed);
  p.option("threads", 0, "N", "CPU threads; 0 = the cores not busy with other work", &o.threads);
  p.flag("profile", 0,
         "per-op times of the first configuration (CUDA: events per node; CPU: host clock)",
         &o.profile);
  p.flag("unfused", 0,
         "run the plain graph op by op (no conv epilogues, concatenations copied) to see what "
         "fusion saves",
         &o.unfused);
  p.flag("conv-compare", 0, "our conv1d against cuDNN on every layer shape (CUDA)",
         &o.conv_compare);
  p.flag("ceilings", 0,
         "measure the GEMM and copy ceilings (CUDA: cuBLAS fp32/tf32/bf16; CPU: sgemm, memcpy, "
         "one core's FMA and BF16 dot-product peaks)",
         &o.ceilings);
  p.option("json", 'j', "OUT", "write every number as JSON", &o.json_out);
  p.epilog(
      "Times: \"e2e\" is upload + run + download as sr-infer sees it (host clock, median); on "
      "CUDA\n"
      "\"device\" is the median CUDA-graph replay of the network alone (CUDA events).\n"
      "RTF: seconds of audio (at the model's rate) processed per second. Exit codes: 0 success,\n"
      "1 error (no CUDA device for --backend cuda, bad model), 2 usage error.");
  if (!p.parse(argc, argv)) return 0;
  sr::cli::apply_threads_flag(o.threads);
  if (o.backend != "auto" && o.backend != "cpu" && o.backend != "cuda")
    throw UsageError("--backend must be auto, cpu or cuda, got '" + o.backend + "'");

  std::string note;
  std::string kind = o.backend;
  if (kind == "auto") {
    kind = sr::cuda_available() ? "cuda" : "cpu";
    if (kind == "cpu") note = "auto: " + sr::cuda_unavailable_reason() + ", using the CPU";
  }
  const bool cuda = kind == "cuda";
  if (cuda && !sr::cuda_available()) (void)sr::make_cuda_backend();  // throws the reason
  if (!cuda && o.conv_compare)
    note += std::string(note.empty() ? "" : "; ") + "--conv-compare needs CUDA";

  std::vector<sr::Precision> precisions;
  for (const std::string& s :
       split_list(o.precision == "default" ? "fp32,tf32,bf16" : o.precision)) {
    try {
      precisions.push_back(sr::parse_precision(s));
    } catch (const sr::Error& e) {
      throw UsageError(std::string("--precision: ") + e.what());
    }
  }
  std::vector<sr::ConvImpl> impls;
  for (const std::string& s : split_list(o.conv_impl)) {
    try {
      impls.push_back(sr::parse_conv_impl(s));
    } catch (const sr::Error& e) {
      throw UsageError(std::string("--conv-impl: ") + e.what());
    }
  }
  if (precisions.empty() || impls.empty()) throw UsageError("empty --precision or --conv-impl");
  if (cuda && !sr::cuda_tools::has_cudnn()) {
    const size_t before = impls.size();
    impls.erase(std::remove(impls.begin(), impls.end(), sr::ConvImpl::cudnn), impls.end());
    if (impls.size() != before || o.conv_compare)
      note += std::string(note.empty() ? "" : "; ") + "this build has no cuDNN: no cuDNN runs";
    if (impls.empty()) impls.push_back(sr::ConvImpl::ours);
  }
  const std::vector<int> batches =
      int_list("--batch", o.batch == "default" ? (cuda ? "1,8,32" : "1") : o.batch, 1, 4096);
  const int warmup = o.warmup >= 0 ? o.warmup : (cuda ? 3 : 1);
  const int repeat = o.repeat >= 1 ? o.repeat : (cuda ? 20 : 3);

  const sr::WeightFile file = o.model.empty()
                                  ? sr::init_weights(sr::default_config(sr::parse_arch(o.arch)), 1)
                                  : sr::load_weights(o.model);
  const sr::ModelConfig config = sr::config_from_metadata(file.metadata);
  const std::vector<int> lengths =
      int_list("--length", o.length == "default" ? std::to_string(config.patch_length) : o.length,
               2, 1 << 24);
  for (int len : lengths) sr::check_input_length(config, len);
  const double rate = config.sample_rate > 0 ? config.sample_rate : 16000.0;

  json j;
  j["tool"] = "sr-bench";
  j["arch"] = sr::arch_name(config.arch);
  j["model"] = o.model.empty() ? "default config, init_weights seed 1" : o.model;
  j["device"] = cuda ? sr::cuda_tools::device_summary() : "cpu";
  j["note"] = note;
  std::printf("sr-bench: %s, %s\n", sr::arch_name(config.arch),
              cuda ? sr::cuda_tools::device_summary().c_str() : "cpu");
  if (!note.empty()) std::fprintf(stderr, "note: %s\n", note.c_str());

  // Backends: the CPU, or CUDA per precision and convolution implementation.
  std::vector<std::unique_ptr<BenchBackend>> backends;
  if (!cuda) {
    auto bb = std::make_unique<BenchBackend>();
    bb->name = "cpu";
    bb->backend = sr::make_cpu_backend();
    backends.push_back(std::move(bb));
  } else {
    for (sr::ConvImpl impl : impls)
      for (sr::Precision precision : precisions) {
        sr::BackendOptions bo;
        bo.precision = precision;
        bo.conv_impl = impl;
        auto bb = std::make_unique<BenchBackend>();
        bb->name = std::string("cuda ") + sr::precision_name(precision) +
                   (impl == sr::ConvImpl::cudnn ? " cudnn" : "");
        bb->backend = sr::make_cuda_backend(bo);
        backends.push_back(std::move(bb));
      }
  }
  for (auto& bb : backends)
    for (const auto& [name, w] : file.tensors) {
      float* ptr = bb->backend->allocate(w.values.size());
      bb->weights[name] = ptr;
      bb->backend->upload(ptr, w.values.data(), w.values.size());
    }

  std::vector<Result> results;
  json jr = json::array();
  bool profiled = false;
  for (auto& bb : backends) {
    for (int length : lengths) {
      for (int batch : batches) {
        auto prog = make_program(*bb, config, batch, length, !o.unfused);
        std::vector<float> input(size_t(batch) * length), output(input.size());
        std::mt19937_64 gen(static_cast<uint64_t>(o.seed));
        std::normal_distribution<float> noise(0.0f, 0.1f);
        for (float& v : input) v = noise(gen);
        auto forward = [&] {
          bb->backend->upload(prog->input.data, input.data(), input.size());
          bb->backend->run(prog->program, prog->id);
          bb->backend->download(output.data(), prog->output.data, output.size());
        };
        for (int i = 0; i < warmup; ++i) forward();
        std::vector<double> times;  // milliseconds
        for (int i = 0; i < repeat; ++i) {
          const auto t0 = Clock::now();
          forward();
          times.push_back(seconds_since(t0) * 1e3);
        }
        Result r;
        r.backend = bb->name;
        r.batch = batch;
        r.length = length;
        r.e2e_ms = median(times);
        if (cuda)
          r.device_ms = sr::cuda_tools::time_replay(*bb->backend, prog->program, prog->id,
                                                    std::max(3, repeat / 2));
        const double t = (cuda ? r.device_ms : r.e2e_ms) * 1e-3;
        r.patches_per_s = batch / t;
        r.rtf = batch * double(length) / rate / t;
        r.tflops = prog->conv_flops / t / 1e12;
        r.gbps = prog->bytes / t / 1e9;
        results.push_back(r);
        std::printf(
            "%-16s batch %4d x %6d: e2e %9.3f ms  device %9.3f ms  %9.1f patches/s  RTF "
            "%9.1f  %7.2f TFLOP/s  %7.1f node GB/s\n",
            r.backend.c_str(), batch, length, r.e2e_ms, r.device_ms, r.patches_per_s, r.rtf,
            r.tflops, r.gbps);
        std::fflush(stdout);
        json row = {{"backend", r.backend},
                    {"batch", batch},
                    {"length", length},
                    {"e2e_ms_median", r.e2e_ms},
                    {"e2e_ms_all", times},
                    {"device_ms", r.device_ms},
                    {"patches_per_s", r.patches_per_s},
                    {"rtf", r.rtf},
                    {"conv_gflop", prog->conv_flops / 1e9},
                    {"all_gflop", prog->all_flops / 1e9},
                    {"conv_tflops", r.tflops},
                    {"all_tflops", prog->all_flops / t / 1e12},
                    {"node_gbps", r.gbps},
                    {"nodes", prog->program.size()},
                    {"fused", !o.unfused}};
        if (o.profile && !profiled) {
          profiled = true;
          json prof;
          const std::vector<double> ms =
              cuda ? sr::cuda_tools::time_nodes(*bb->backend, prog->program, 5)
                   : time_nodes_cpu(*bb->backend, prog->program, std::max(1, repeat));
          print_node_profile(*prog, ms, cuda, prof);
          row["profile"] = prof;
        }
        jr.push_back(row);
      }
    }
  }
  j["results"] = jr;

  if (cuda && o.conv_compare && sr::cuda_tools::has_cudnn()) {
    const sr::Graph g = sr::build_graph(config, batches.front(), lengths.front());
    j["conv_compare"] = conv_compare(g, precisions, std::max(5, repeat / 2));
  }
  if (cuda && o.ceilings) {
    const sr::cuda_tools::Ceilings c = sr::cuda_tools::measure_ceilings(8192, size_t{1} << 30);
    std::printf(
        "\nceilings (measured): GEMM %d^3  fp32 %.1f  tf32 %.1f  bf16 %.1f TFLOP/s;  "
        "D2D copy %.1f GB/s (read + write)\n",
        c.gemm_n, c.fp32_tflops, c.tf32_tflops, c.bf16_tflops, c.copy_gbps);
    j["ceilings"] = {{"gemm_n", c.gemm_n},           {"fp32_tflops", c.fp32_tflops},
                     {"tf32_tflops", c.tf32_tflops}, {"bf16_tflops", c.bf16_tflops},
                     {"copy_bytes", c.copy_bytes},   {"copy_gbps", c.copy_gbps}};
  }

  if (!cuda && o.ceilings) {
    constexpr int kGemmN = 2048;
    constexpr size_t kCopyBytes = size_t{256} << 20;
    const double gflops = sr::cpu::sgemm_gflops(kGemmN), gbps = sr::cpu::copy_gbps(kCopyBytes);
    const double fma = sr::cpu::fma_peak_gflops(), bf16 = sr::cpu::bf16_dot_peak_gflops();
    std::printf(
        "\nceilings (measured, same threads): sgemm %d^3 %.1f GFLOP/s (%.3f TFLOP/s);  "
        "copy %.1f GB/s (read + write)\n"
        "one core, data in registers: FP32 FMA %.1f GFLOP/s;  BF16 dot products %s\n",
        kGemmN, gflops, gflops / 1e3, gbps, fma,
        bf16 > 0 ? (std::to_string(static_cast<int>(bf16 + 0.5)) + " GFLOP/s").c_str()
                 : "none (no AVX512_BF16)");
    j["ceilings"] = {{"gemm_n", kGemmN},
                     {"fp32_tflops", gflops / 1e3},
                     {"copy_bytes", kCopyBytes},
                     {"copy_gbps", gbps},
                     {"fma_peak_gflops_one_core", fma},
                     {"bf16_dot_peak_gflops_one_core", bf16}};
  }

  // Summary table last (scripts and humans read the end).
  std::printf("\n%-16s %6s %7s %11s %11s %11s %10s %9s %9s\n", "backend", "batch", "length",
              "e2e ms", "device ms", "patches/s", "RTF", "TFLOP/s", "GB/s");
  for (const Result& r : results)
    std::printf("%-16s %6d %7d %11.3f %11.3f %11.1f %10.1f %9.2f %9.1f\n", r.backend.c_str(),
                r.batch, r.length, r.e2e_ms, r.device_ms, r.patches_per_s, r.rtf, r.tflops, r.gbps);

  if (!o.json_out.empty()) {
    std::ofstream f(o.json_out);
    if (!f) sr::fail("cannot write ", o.json_out);
    f << j.dump(2) << "\n";
    if (!f) sr::fail("writing ", o.json_out, " failed");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return sr::cli::run_main("sr-bench", argv, [&] { return bench(argc, argv); });
}
