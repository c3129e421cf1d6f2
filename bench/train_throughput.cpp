// bench_train_throughput: times sr::Trainer::train_step (forward, MSE loss, backward, Adam) on the
// CPU backend for one configuration, batch and patch length; the PyTorch side is
// bench/pytorch_train.py, the pair is driven by bench/run_train_vs_pytorch.sh.
//
// Defaults: the TFiLM we ship (layers 4, filters 32,48,64,64, kernels 33,17,9,9, bottleneck 64/9,
// TF block policy and subpixel order), patch 2048, batch 16, MSE, Adam lr 1e-3, dropout on, weights
// from init_weights(seed 1). Data: seeded smooth targets (a few low sinusoids per patch) and, as
// the input, the target sampled every 4th sample and linearly interpolated back (an r = 4 task).
//
// --parity: instead of timing, one loss and gradient with dropout off (Trainer::loss_gradient):
// prints the loss and the global gradient norm, and writes the gradient per tensor (--save-grad)
// for bench/pytorch_train.py --compare-grad; then one Adam step and the loss after it.
#include <cblas.h>
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "args.h"
#include "model_flags.h"
#include "sr/backend.h"
#include "sr/io/npy.h"
#include "sr/model.h"
#include "sr/trainer.h"
#include "sr/weights.h"

#include "bench_util.h"

namespace {

using sr::bench::Clock;
using sr::bench::median;
using sr::bench::peak_rss_mib;
using sr::bench::process_cpu_s;
using sr::bench::seconds_since;
using json = nlohmann::json;

// Smooth targets (8 sinusoids of 40-2000 Hz at 16 kHz, random phases, RMS ~0.1) and r = 4 inputs.
void make_batch(int batch, int length, uint64_t seed, std::vector<float>& x,
                std::vector<float>& y) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> freq(40.0, 2000.0), phase(0.0, 2 * M_PI), amp(0.5, 1.0);
  x.assign(static_cast<size_t>(batch) * length, 0.0f);
  y.assign(x.size(), 0.0f);
  for (int b = 0; b < batch; ++b) {
    float* t = y.data() + static_cast<size_t>(b) * length;
    for (int k = 0; k < 8; ++k) {
      const double w = 2 * M_PI * freq(gen) / 16000.0, p = phase(gen), a = 0.05 * amp(gen);
      for (int i = 0; i < length; ++i) t[i] += static_cast<float>(a * std::sin(w * i + p));
    }
    float* s = x.data() + static_cast<size_t>(b) * length;
    for (int i = 0; i < length; ++i) {
      const int i0 = i / 4 * 4, i1 = std::min(i0 + 4, length - 1);
      const float f = i1 > i0 ? static_cast<float>(i - i0) / (i1 - i0) : 0.0f;
      s[i] = t[i0] + f * (t[i1] - t[i0]);
    }
  }
}

int bench(int argc, char** argv) {
  std::string lr_text = "1e-3", json_out, save_model, save_input, save_target, save_grad;
  int batch = 16, length = 2048, warmup = 2, steps = 10, threads = 2, seed = 1, dropout = 1;
  sr::cli::ModelFlags model;  // defaults: the bundled speech models' shape
  model.filters = "32,48,64,64";
  model.kernels = "33,17,9,9";
  model.bottleneck_filters = 64;
  model.bottleneck_kernel = 9;
  bool parity = false;
  sr::cli::ArgParser p("bench_train_throughput", "bench_train_throughput [options]",
                       "Times Trainer::train_step (forward + MSE + backward + Adam) on the CPU "
                       "backend; init_weights seed 1, seeded smooth data.");
  model.add_to(p, "arch", 'a');
  p.option("batch", 'b', "B", "patches per step", &batch);
  p.option("length", 'l', "L", "samples per patch", &length);
  p.option("lr", 0, "LR", "Adam learning rate", &lr_text);
  p.option("dropout", 0, "0|1", "the originals' dropout in the timed steps", &dropout);
  p.option("warmup", 0, "N", "untimed steps first", &warmup);
  p.option("steps", 'n', "N", "timed steps", &steps);
  p.option("threads", 't', "T", "OpenMP and OpenBLAS threads (0: the idle cores)", &threads);
  p.option("seed", 's', "N", "seed of the data", &seed);
  p.flag("parity", 0, "one loss + gradient with dropout off instead of timing", &parity);
  p.option("save-model", 0, "M.safetensors", "write the initial weights", &save_model);
  p.option("save-input", 0, "X.npy", "write the input batch (B, L)", &save_input);
  p.option("save-target", 0, "Y.npy", "write the target batch (B, L)", &save_target);
  p.option("save-grad", 0, "G.safetensors", "--parity: write the gradient per tensor", &save_grad);
  p.option("json", 'j', "OUT", "write every number as JSON", &json_out);
  if (!p.parse(argc, argv)) return 0;
  if (batch < 1 || steps < 1 || warmup < 0)
    throw sr::cli::UsageError("bad --batch/--steps/--warmup");
  sr::set_cpu_threads(threads);

  const sr::ModelConfig config = model.config(length, 16000, 0);
  sr::check_input_length(config, length);
  const sr::WeightFile initial = sr::init_weights(config, 1);
  if (!save_model.empty()) sr::save_weights(save_model, initial);

  std::vector<float> x, y;
  make_batch(batch, length, static_cast<uint64_t>(seed), x, y);
  if (!save_input.empty()) sr::write_npy(save_input, {{batch, length}, x});
  if (!save_target.empty()) sr::write_npy(save_target, {{batch, length}, y});

  sr::TrainOptions opt;
  opt.loss = sr::LossKind::mse;
  opt.lr = std::stof(lr_text);
  opt.dropout = dropout != 0;
  std::unique_ptr<sr::Backend> backend = sr::make_cpu_backend();
  sr::Trainer trainer(initial, *backend, opt);

  json j;
  j["tool"] = "bench_train_throughput";
  j["engine"] = "sr Trainer (CPU backend, OpenBLAS + OpenMP)";
  j["config"] = sr::config_to_metadata(config);
  j["parameters"] = trainer.parameter_count();
  j["batch"] = batch;
  j["length"] = length;
  j["threads"] = {{"omp_max_threads", omp_get_max_threads()},
                  {"openblas_threads", openblas_get_num_threads()}};
  const char* wait_policy = std::getenv("OMP_WAIT_POLICY");
  j["omp_wait_policy"] = wait_policy ? wait_policy : "(unset)";

  if (parity) {
    std::vector<float> grad;
    const auto t0 = Clock::now();
    const double loss = trainer.loss_gradient(x.data(), y.data(), batch, length, grad, false);
    const double took = seconds_since(t0);
    double norm2 = 0;
    for (float g : grad) norm2 += static_cast<double>(g) * g;
    std::printf("parity (dropout off): loss %.9e  grad norm %.9e  (%lld parameters, %.3f s)\n",
                loss, std::sqrt(norm2), static_cast<long long>(trainer.parameter_count()), took);
    if (!save_grad.empty()) {
      sr::WeightFile g;
      g.metadata = sr::config_to_metadata(config);
      for (const auto& [name, entry] : trainer.layout()) {
        sr::HostWeight w;
        w.dims = entry.second;
        w.values.assign(initial.tensors.at(name).values.size(), 0.0f);
        std::copy_n(grad.begin() + entry.first, w.values.size(), w.values.begin());
        g.tensors[name] = std::move(w);
      }
      sr::save_weights(save_grad, g);
    }
    // Then one Adam step (dropout off) and the loss after it: checks the optimizer too.
    trainer.options().dropout = false;
    trainer.train_step(x.data(), y.data(), batch, length);
    const double after = trainer.loss_gradient(x.data(), y.data(), batch, length, grad, false);
    std::printf("  loss after one Adam step (lr %g): %.9e\n", opt.lr, after);
    j["mode"] = "parity";
    j["loss"] = loss;
    j["grad_norm"] = std::sqrt(norm2);
    j["loss_after_step"] = after;
  } else {
    std::vector<double> times, cpu, losses;
    for (int i = 0; i < warmup + steps; ++i) {
      const auto t0 = Clock::now();
      const double c0 = process_cpu_s();
      const double loss = trainer.train_step(x.data(), y.data(), batch, length);
      if (i >= warmup) {
        times.push_back(seconds_since(t0));
        cpu.push_back(process_cpu_s() - c0);
      }
      losses.push_back(loss);
    }
    const double med = median(times), best = *std::min_element(times.begin(), times.end());
    std::printf("%s  params %lld  batch %d x %d  threads %d  dropout %s\n",
                sr::arch_name(config.arch), static_cast<long long>(trainer.parameter_count()),
                batch, length, omp_get_max_threads(), dropout ? "on" : "off");
    std::printf(
        "train_step: median %.4f s  min %.4f s  (%d steps after %d warmup)  cpu %.3f s/step\n", med,
        best, steps, warmup, median(cpu));
    std::printf("  %.2f patches/s (median)  %.2f (best)   peak RSS %.1f MiB   loss %.4e -> %.4e\n",
                batch / med, batch / best, peak_rss_mib(), losses.front(), losses.back());
    j["mode"] = "timing";
    j["dropout"] = dropout != 0;
    j["lr"] = opt.lr;
    j["warmup"] = warmup;
    j["steps"] = steps;
    j["times_s"] = times;
    j["median_s"] = med;
    j["min_s"] = best;
    j["cpu_s_per_step"] = median(cpu);
    j["patches_per_s"] = batch / med;
    j["patches_per_s_best"] = batch / best;
    j["losses"] = losses;
  }
  sr::bench::finish_json(j, json_out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return sr::cli::run_main("bench_train_throughput", argv, [&] { return bench(argc, argv); });
}
