// sr-infer: upsample an audio file (or a .npy batch of network inputs) with a TFiLM/AFiLM model.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "args.h"
#include "sr/backend.h"
#include "sr/io/audio.h"
#include "sr/io/audio_stream.h"
#include "sr/io/npy.h"
#include "sr/network.h"
#include "sr/upsampler.h"
#include "sr/weights.h"

#ifndef SR_DEFAULT_MODEL_DIR
#define SR_DEFAULT_MODEL_DIR "models"
#endif

namespace {

using sr::cli::UsageError;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string in, out, model, backend = "auto", precision = "tf32", batch = "auto";
  int r = 0, overlap = -1;
  int patches = 4;  // --batch resolved once the backend is known
  bool quiet = false;
  int threads = 0;
};

// Patches per network call when --batch is auto: the GPU needs many patches in flight to fill its
// multiprocessors; the CPU gains nothing beyond a few.
constexpr int kCpuBatch = 4, kCudaBatch = 32;

// --backend auto|cpu|cuda with the precision; `note` explains an auto choice of the CPU.
std::unique_ptr<sr::Backend> open_backend(const Options& o, std::string& note) {
  sr::BackendOptions options;
  options.precision = sr::parse_precision(o.precision);
  if (o.backend != "auto") return sr::make_backend(o.backend, options);
  if (!sr::cuda_available()) {
    note = "; auto: " + sr::cuda_unavailable_reason() + ", using the CPU";
    return sr::make_cpu_backend();
  }
  try {
    return sr::make_cuda_backend(options);
  } catch (const sr::Error& e) {
    note = std::string("; auto: the CUDA backend failed (") + e.what() + "), using the CPU";
    return sr::make_cpu_backend();
  }
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// --model, else $SR_MODEL_DIR or the bundled models/ folder: speech_r<R>.safetensors.
std::string find_model(const Options& o) {
  if (!o.model.empty()) return o.model;
  if (o.r == 0) throw UsageError("--r is required when no --model is given");
  const char* env = std::getenv("SR_MODEL_DIR");
  std::string dir = env ? env : SR_DEFAULT_MODEL_DIR;
  std::string path = dir + "/speech_r" + std::to_string(o.r) + ".safetensors";
  if (!std::filesystem::exists(path))
    sr::fail("no bundled model for r=", o.r, " (looked for ", path,
             "): pass --model FILE "
             "(sr-model init makes an untrained one)");
  return path;
}

template <typename... Args>
void log(const Options& o, const char* fmt, Args... args) {
  if (!o.quiet) std::fprintf(stderr, fmt, args...);
}

int run_npy(const Options& o, sr::Network& net) {
  sr::NpyArray in = sr::read_npy(o.in);
  if (in.dims.empty() || in.dims.size() > 2)
    sr::fail(o.in, ": expected shape (L,) or (B, L), got rank ", in.dims.size());
  const int64_t batch = in.dims.size() == 2 ? in.dims[0] : 1;
  const int64_t length = in.dims.back();
  if (batch <= 0 || length <= 0) sr::fail(o.in, ": empty array");
  for (float v : in.values)
    if (!std::isfinite(v)) sr::fail(o.in, ": contains NaN or infinite values");
  auto start = Clock::now();
  sr::NpyArray out{in.dims, std::vector<float>(in.values.size())};
  net.forward(in.values.data(), batch, length, out.values.data());
  sr::write_npy(o.out, out);
  log(o, "ran %lld x %lld samples in %.3f s\n", static_cast<long long>(batch),
      static_cast<long long>(length), seconds_since(start));
  return 0;
}

int run_audio(const Options& o, sr::Network& net, const sr::ModelConfig& cfg, int r) {
  sr::AudioReader reader(o.in);
  int low_rate = reader.sample_rate(), out_rate = reader.sample_rate() * r;
  if (cfg.sample_rate > 0) {
    if (cfg.sample_rate % r != 0)
      sr::fail("model rate ", cfg.sample_rate, " Hz is not divisible by r = ", r);
    low_rate = cfg.sample_rate / r;
    out_rate = cfg.sample_rate;
  }
  std::unique_ptr<sr::StreamResampler> resampler;
  if (reader.sample_rate() != low_rate) {
    log(o, "input is %d Hz; resampling to the model's low rate %d Hz first\n", reader.sample_rate(),
        low_rate);
    resampler =
        std::make_unique<sr::StreamResampler>(reader.sample_rate(), low_rate, reader.channels());
  }
  const int channels = reader.channels();
  sr::UpsampleOptions uo;
  uo.ratio = r;
  uo.overlap = o.overlap;
  uo.batch = o.patches;
  sr::Upsampler up(net, channels, uo);
  sr::AudioWriter writer(o.out, out_rate, channels);

  const double in_seconds = static_cast<double>(reader.frames()) / reader.sample_rate();
  const double expected_out = in_seconds * out_rate;
  const bool show_progress = !o.quiet && in_seconds > 5.0;
  // Ends a "\r" progress line before anything else reaches stderr, an error message included.
  struct ProgressLine {
    bool open = false;
    ~ProgressLine() {
      if (open) std::fputc('\n', stderr);
    }
  } progress_line;
  int64_t written = 0;
  auto start = Clock::now();
  auto last_report = start;
  auto sink = [&](const float* frames, size_t count) {
    writer.write(frames, count);
    written += static_cast<int64_t>(count);
    if (show_progress && seconds_since(last_report) > 0.5) {
      last_report = Clock::now();
      double done = std::min(1.0, written / expected_out);
      double audio_s = static_cast<double>(written) / out_rate;
      progress_line.open = true;
      std::fprintf(stderr, "\r  %5.1f%%  %7.1f s of audio  %6.2fx real time", 100.0 * done, audio_s,
                   audio_s / seconds_since(start));
    }
  };
  std::vector<float> chunk, converted;
  const size_t chunk_frames = 1 << 15;
  while (reader.read(chunk, chunk_frames) > 0) {
    const std::vector<float>* low = &chunk;
    if (resampler) {
      converted.clear();
      resampler->process(chunk.data(), chunk.size() / channels, converted);
      low = &converted;
    }
    up.push(low->data(), low->size() / channels, sink);
  }
  if (resampler) {
    converted.clear();
    resampler->process(nullptr, 0, converted, /*flush=*/true);
    up.push(converted.data(), converted.size() / channels, sink);
  }
  up.finish(sink);
  writer.finish();
  if (progress_line.open) std::fprintf(stderr, "\n");
  progress_line.open = false;
  const double elapsed = seconds_since(start);
  const double audio_s = static_cast<double>(written) / out_rate;
  log(o,
      "%s: %.2f s of audio, %d ch, %d -> %d Hz, %lld patches, overlap %d, in %.2f s "
      "(%.2fx real time)\n",
      o.out.c_str(), audio_s, channels, low_rate, out_rate,
      static_cast<long long>(up.patches_done()), up.overlap(), elapsed, audio_s / elapsed);
  return 0;
}

int run(int argc, char** argv) {
  Options o;
  sr::cli::ArgParser p(
      "sr-infer", "sr-infer IN OUT [--r R] [--model PATH] [options]",
      "Audio super-resolution: restores the high frequencies of a low-rate recording.\n"
      "IN is any file libsndfile reads (WAV, FLAC, OGG/Vorbis, Opus...), mono or multichannel;\n"
      "OUT (.wav, .flac, .ogg) is written at r times the model's low rate. With IN and OUT ending\n"
      "in .npy, IN holds network input (L,) or (B, L) already at the model rate, and OUT gets the\n"
      "network output of the same shape (no interpolation, no resampling).");
  p.positional("IN", "input audio file, or .npy network input", &o.in);
  p.positional("OUT", "output audio file, or .npy", &o.out);
  p.option("r", 'r', "R", "upscaling ratio (default: the model's; 0 = the model's)", &o.r);
  p.option("model", 'm', "PATH", "weights (.safetensors); default models/speech_r<R>", &o.model);
  p.option("backend", 'b', "NAME",
           "auto (CUDA when a device is visible, else the CPU), cpu or cuda", &o.backend);
  p.option("precision", 0, "NAME",
           "CUDA arithmetic: fp32, tf32 or bf16; tf32 stays well inside the error bound of "
           "docs/BENCHMARKS.md (CPU emulation on speech), bf16 reaches it (speeds unmeasured "
           "until a GPU run)",
           &o.precision);
  p.option("overlap", 0, "N",
           "high-rate samples crossfaded between patches; -1 = patch/8; 0 = the originals' exact "
           "tiling",
           &o.overlap);
  p.option("batch", 0, "N", "patches per network call; auto = 4 on the CPU, 32 on CUDA", &o.batch);
  p.option("threads", 0, "N", "CPU threads; 0 = the cores not busy with other work", &o.threads);
  p.flag("quiet", 'q', "no progress or timing on stderr", &o.quiet);
  p.epilog(
      "Models: without --model, models/speech_r<R>.safetensors (small TFiLMs trained on one\n"
      "speaker at 16 kHz, r = 2 and 4; see docs/MODELS.md). A model file's metadata gives its\n"
      "architecture, rate, ratio and patch length.\n"
      "Exit codes: 0 success, 1 error (bad input, model or file), 2 usage error.");
  if (!p.parse(argc, argv)) return 0;
  if (o.threads < 0) throw sr::cli::UsageError("--threads must be 0 (all cores) or more");
  sr::set_cpu_threads(o.threads);
  if (o.r < 0 || o.r > 64) throw UsageError("--r must be between 1 and 64 (0 = the model's)");
  const int batch = o.batch == "auto" ? 0 : sr::cli::parse_int("--batch", o.batch, 1, 4096);
  if (o.backend != "auto" && o.backend != "cpu" && o.backend != "cuda")
    throw UsageError("--backend must be auto, cpu or cuda, got '" + o.backend + "'");
  if (o.precision != "fp32" && o.precision != "tf32" && o.precision != "bf16")
    throw UsageError("--precision must be fp32, tf32 or bf16, got '" + o.precision + "'");
  if (o.overlap < -1) throw UsageError("--overlap must be -1, 0 or positive");
  const bool npy = ends_with(o.in, ".npy");
  if (npy != ends_with(o.out, ".npy")) throw UsageError("IN and OUT must both be .npy, or neither");
  if (std::filesystem::exists(o.in) && std::filesystem::exists(o.out) &&
      std::filesystem::equivalent(o.in, o.out))
    throw UsageError("OUT must differ from IN");

  auto start = Clock::now();
  const std::string model_path = find_model(o);
  // Cheap checks first, so a typo does not wait for a large model to load.
  if (!std::filesystem::is_regular_file(o.in)) sr::fail(o.in, ": no such file");
  sr::WeightFile weights = sr::load_weights(model_path);
  std::string backend_note;
  auto backend = open_backend(o, backend_note);
  const bool on_cuda = backend->kind() == sr::BackendKind::cuda;
  o.patches = batch > 0 ? batch : (on_cuda ? kCudaBatch : kCpuBatch);
  std::unique_ptr<sr::Network> network;
  try {
    network = std::make_unique<sr::Network>(weights, *backend);
  } catch (const sr::Error& e) {
    sr::fail(model_path, ": ", e.what());
  }
  sr::Network& net = *network;
  weights = {};  // the backend holds its copy
  const sr::ModelConfig& cfg = net.config();
  int r = o.r;
  if (cfg.ratio > 0 && r > 0 && r != cfg.ratio)
    sr::fail("model ", model_path, " serves r = ", cfg.ratio, ", not r = ", r);
  if (r == 0) r = cfg.ratio;
  if (r == 0 && !npy) throw UsageError("--r is required: the model serves any ratio");
  log(o, "model %s: %s, %.1fM parameters, patch %d, backend %s%s, batch %d (loaded in %.2f s)\n",
      model_path.c_str(), sr::arch_name(cfg.arch), net.parameter_count() / 1e6, cfg.patch_length,
      backend->description().c_str(), backend_note.c_str(), o.patches, seconds_since(start));
  if (on_cuda && cfg.arch == sr::Arch::afilm &&
      sr::parse_precision(o.precision) == sr::Precision::bf16)
    std::fprintf(stderr,
                 "warning: bf16 on an AFiLM model: its attention amplifies the rounding (emulated "
                 "residual error 10-100x over the accuracy bound, docs/BENCHMARKS.md); prefer "
                 "--precision tf32\n");
  return npy ? run_npy(o, net) : run_audio(o, net, cfg, r);
}

}  // namespace

int main(int argc, char** argv) {
  return sr::cli::run_main("sr-infer", argv, [&] { return run(argc, argv); });
}
