// sr-infer: upsample an audio file (or a .npy batch of network inputs) with a TFiLM/AFiLM model.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>

#include "args.h"
#include "sr/backend.h"
#include "sr/band_extender.h"
#include "sr/dsp/bandwidth.h"
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
  int r = 0, overlap = -1, out_rate = 0, band = 0;
  std::string generated_gain = "model";
  std::string line_threshold = "auto";
  bool raw = false;
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

std::string model_dir() {
  const char* env = std::getenv("SR_MODEL_DIR");
  return env ? env : SR_DEFAULT_MODEL_DIR;
}

std::string bundled_model(int r) {
  return model_dir() + "/speech_r" + std::to_string(r) + ".safetensors";
}

// The lowest cutoff the model's training input had, in Hz: below it the network saw real content.
double trained_cutoff_hz(const sr::ModelConfig& c, int r) {
  return c.input_filter.cutoff * c.sample_rate / (2.0 * r);
}

// --model, else the bundled models/speech_r<R>.safetensors ($SR_MODEL_DIR overrides the folder).
// Without --r the input's band chooses: the smallest r whose training cutoff the band reaches (the
// network then sees everything it expects), else the largest r there is.
std::string find_model(const Options& o, double band_hz, std::string& why) {
  if (!o.model.empty()) return o.model;
  if (o.r > 0) {
    const std::string path = bundled_model(o.r);
    if (!std::filesystem::exists(path))
      sr::fail("no bundled model for r=", o.r, " (looked for ", path,
               "): pass --model FILE (sr-model init makes an untrained one)");
    return path;
  }
  std::string chosen;
  for (int r = 2; r <= 16; ++r) {
    const std::string path = bundled_model(r);
    if (!std::filesystem::exists(path)) continue;
    const sr::ModelConfig c = sr::config_from_metadata(sr::load_weights(path).metadata);
    chosen = path;
    if (band_hz >= trained_cutoff_hz(c, r) * 0.98 || band_hz <= 0) {
      why = "the input's band reaches this model's training cutoff (" +
            std::to_string(static_cast<int>(trained_cutoff_hz(c, r))) + " Hz)";
      return path;
    }
    why = "the input's band is below every model's training cutoff; the widest ratio";
  }
  if (chosen.empty())
    sr::fail("no bundled model in ", model_dir(), " (speech_r<R>.safetensors): pass --model FILE");
  return chosen;
}

// The input's band from a first pass over the file.
sr::BandEstimate detect_band(const std::string& path) {
  sr::AudioReader reader(path);
  sr::BandwidthEstimator estimator(reader.sample_rate(), reader.channels());
  std::vector<float> chunk;
  while (reader.read(chunk, 1 << 15) > 0)
    estimator.push(chunk.data(), chunk.size() / reader.channels());
  return estimator.estimate();
}

template <typename... Args>
void log(const Options& o, const char* fmt, Args... args) {
  if (!o.quiet) std::fprintf(stderr, fmt, args...);
}

int run_npy(const Options& o, const std::string& model_path, sr::Network& net) {
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
  for (size_t i = 0; i < out.values.size(); ++i)  // a broken model must not look like a success
    if (!std::isfinite(out.values[i]))
      sr::fail(model_path, ": the network's output is not finite (element ", i,
               "); nothing written");
  sr::write_npy(o.out, out);
  log(o, "ran %lld x %lld samples in %.3f s\n", static_cast<long long>(batch),
      static_cast<long long>(length), seconds_since(start));
  return 0;
}

int run_audio(const Options& o, sr::Network& net, const sr::ExtensionPlan& plan) {
  sr::AudioReader reader(o.in);
  const int channels = reader.channels();
  sr::UpsampleOptions uo;
  uo.overlap = o.overlap;
  uo.batch = o.patches;
  sr::BandExtender extender(net, plan, channels, uo);
  const int out_rate = plan.out_rate;
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
  std::vector<float> chunk;
  const size_t chunk_frames = 1 << 15;
  while (reader.read(chunk, chunk_frames) > 0)
    extender.push(chunk.data(), chunk.size() / channels, sink);
  extender.finish(sink);
  writer.finish();
  if (progress_line.open) std::fprintf(stderr, "\n");
  progress_line.open = false;
  const double elapsed = seconds_since(start);
  const double audio_s = static_cast<double>(written) / out_rate;
  if (plan.mode == sr::ExtensionPlan::Mode::pass_through) {
    log(o, "%s: %.2f s of audio, %d ch, %d Hz, passed through in %.2f s\n", o.out.c_str(), audio_s,
        channels, out_rate, elapsed);
    return 0;
  }
  log(o,
      "%s: %.2f s of audio, %d ch, %d -> %d Hz, %lld patches, overlap %d, in %.2f s "
      "(%.2fx real time)\n",
      o.out.c_str(), audio_s, channels, reader.sample_rate(), out_rate,
      static_cast<long long>(extender.patches_done()), extender.overlap(), elapsed,
      audio_s / elapsed);
  if (extender.limited_frames() > 0)
    log(o,
        "  the added band was turned down on %lld frames (%.3f s, down to %.1f dB) to stay "
        "below full scale\n",
        static_cast<long long>(extender.limited_frames()),
        static_cast<double>(extender.limited_frames()) / out_rate,
        20 * std::log10(std::max(extender.min_gain(), 1e-5)));
  if (extender.line_cut_frames() > 0)
    log(o,
        "  steady lines in the added band lowered in %lld of its analysis frames (up to %.1f dB)\n",
        static_cast<long long>(extender.line_cut_frames()), extender.deepest_line_cut_db());
  if (extender.clamped_samples() > 0)
    log(o,
        "  %lld samples of the input's own band exceed full scale (the input is clipped) and "
        "were clamped\n",
        static_cast<long long>(extender.clamped_samples()));
  return 0;
}

int run(int argc, char** argv) {
  Options o;
  sr::cli::ArgParser p(
      "sr-infer", "sr-infer IN OUT [--r R] [--model PATH] [options]",
      "Audio super-resolution: restores the high frequencies of a band-limited recording.\n"
      "IN is any file libsndfile reads (WAV, FLAC, OGG/Vorbis, Opus...), mono or multichannel, at\n"
      "any rate. sr-infer finds the band IN really has (its long-term spectrum), keeps that band\n"
      "exactly and lets the network add only what lies above it, up to the model's Nyquist. OUT\n"
      "(.wav, .flac, .ogg) keeps IN's rate when that is above the model's (16 kHz), else gets the\n"
      "model's; input that already has the model's whole band is passed through unchanged.\n"
      "With IN and OUT ending in .npy, IN holds network input (L,) or (B, L) already at the model\n"
      "rate, and OUT gets the network output of the same shape (no interpolation, no resampling).");
  p.positional("IN", "input audio file, or .npy network input", &o.in);
  p.positional("OUT", "output audio file, or .npy", &o.out);
  p.option("r", 'r', "R",
           "upscaling ratio; 0 = the model's, or without --model the bundled model that suits the "
           "input's band",
           &o.r);
  p.option("model", 'm', "PATH", "weights (.safetensors); default models/speech_r<R>", &o.model);
  p.option("out-rate", 0, "HZ", "output rate; 0 = the input's, or the model's if that is higher",
           &o.out_rate);
  p.option("band", 0, "HZ",
           "the input's band (highest frequency with content); 0 = detect it from the spectrum",
           &o.band);
  p.option("generated-gain", 0, "DB",
           "gain on what the network adds above the input's band; 'model' = the model file's "
           "generated_gain_db (bundled: -15 dB at r = 2, -28 at r = 4, -20 at r = 8; louder "
           "costs WB-PESQ on unseen voices); 0 = the network's own level",
           &o.generated_gain);
  p.option("line-threshold", 0, "DB",
           "steady lines (whistles) in the added band standing more than DB above their local "
           "floor are lowered to it; 'auto' = 4 dB, 'off' = left as the network made them",
           &o.line_threshold);
  p.flag("raw", 0,
         "the network's output alone at the model's rate, as the originals (input resampled to "
         "the model's low rate, nothing of it kept, no detection)",
         &o.raw);
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
      "Models: without --model, models/speech_r<R>.safetensors (1M-parameter TFiLMs for 16 kHz\n"
      "speech, r = 2, 4 and 8, trained on many voices and languages with varied low-rate inputs;\n"
      "see docs/MODELS.md); without --r the input's band picks one. A model file's metadata gives\n"
      "its architecture, rate, ratio, patch length and how its training input was low-passed; the\n"
      "network's input is conditioned the same way.\n"
      "Output that would exceed full scale: the added band is turned down where it would (the\n"
      "input's own band is never changed), and the summary says so.\n"
      "Exit codes: 0 success, 1 error (bad input, model or file), 2 usage error.");
  if (!p.parse(argc, argv)) return 0;
  sr::cli::apply_threads_flag(o.threads);
  if (o.r < 0 || o.r > 64) throw UsageError("--r must be between 1 and 64 (0 = the model's)");
  const int batch = o.batch == "auto" ? 0 : sr::cli::parse_int("--batch", o.batch, 1, 4096);
  if (o.backend != "auto" && o.backend != "cpu" && o.backend != "cuda")
    throw UsageError("--backend must be auto, cpu or cuda, got '" + o.backend + "'");
  if (o.precision != "fp32" && o.precision != "tf32" && o.precision != "bf16")
    throw UsageError("--precision must be fp32, tf32 or bf16, got '" + o.precision + "'");
  if (o.overlap < -1) throw UsageError("--overlap must be -1, 0 or positive");
  if (o.out_rate != 0 && (o.out_rate < 1000 || o.out_rate > 768000))
    throw UsageError("--out-rate must be between 1000 and 768000 Hz (0 = automatic)");
  if (o.band < 0 || o.band > 384000)
    throw UsageError("--band must be between 1 and 384000 Hz (0 = detect)");
  if (o.raw && (o.out_rate > 0 || o.band > 0))
    throw UsageError(
        "--raw writes the network's output at the model's rate: drop --out-rate and --band");
  const bool npy = ends_with(o.in, ".npy");
  if (npy != ends_with(o.out, ".npy")) throw UsageError("IN and OUT must both be .npy, or neither");
  if (std::filesystem::exists(o.in) && std::filesystem::exists(o.out) &&
      std::filesystem::equivalent(o.in, o.out))
    throw UsageError("OUT must differ from IN");

  double gain_db = 0;
  if (o.generated_gain != "model") {
    const std::optional<double> v = sr::cli::parse_number(o.generated_gain);
    if (!v || !(*v <= 0 && *v >= -120))
      throw UsageError("--generated-gain must be 'model' or between -120 and 0 dB, got '" +
                       o.generated_gain + "'");
    gain_db = *v;
  }
  std::optional<double> line_threshold_db;  // nothing: the plan's default; -1: off
  if (o.line_threshold == "off") {
    line_threshold_db = -1;
  } else if (o.line_threshold != "auto") {
    line_threshold_db = sr::cli::parse_number(o.line_threshold);
    if (!line_threshold_db || !(*line_threshold_db >= 0 && *line_threshold_db <= 60))
      throw UsageError("--line-threshold must be 'auto', 'off' or between 0 and 60 dB, got '" +
                       o.line_threshold + "'");
  }
  if (npy && (o.raw || o.out_rate > 0 || o.band > 0))
    throw UsageError("--raw, --out-rate and --band apply to audio files, not .npy network input");
  if (npy && o.model.empty() && o.r == 0)
    throw UsageError("--r is required when no --model is given");

  auto start = Clock::now();
  // Cheap checks first, so a typo does not wait for a large model to load.
  if (!std::filesystem::is_regular_file(o.in)) sr::fail(o.in, ": no such file");
  // The band is found first (it may choose the model) but reported after the model has loaded,
  // so that an error there is still the only line on stderr.
  sr::BandEstimate band;
  std::string band_note;
  if (!npy && !o.raw) {
    if (o.band > 0) {
      band.band_hz = band.edge_hz = o.band;
      band_note = sr::format("input band: ", o.band, " Hz (--band)");
    } else {
      band = detect_band(o.in);
      char text[200];
      if (band.silent)
        std::snprintf(text, sizeof text, "input is digital silence");
      else if (band.cliff())
        std::snprintf(text, sizeof text,
                      "input band: %.2f kHz at full level, nothing above %.2f kHz (the spectrum "
                      "falls %.0f dB)",
                      band.band_hz / 1000, band.edge_hz / 1000, band.drop_db);
      else
        std::snprintf(text, sizeof text,
                      "input band: its whole rate (%.2f kHz, no band edge in the spectrum)",
                      band.band_hz / 1000);
      band_note = text;
    }
  }
  std::string why;
  const std::string model_path = find_model(o, band.band_hz, why);
  sr::WeightFile weights = sr::load_weights(model_path);
  std::string backend_note;
  auto backend = open_backend(o, backend_note);
  const bool on_cuda = backend->kind() == sr::BackendKind::cuda;
  o.patches = batch > 0 ? batch : (on_cuda ? kCudaBatch : kCpuBatch);
  std::unique_ptr<sr::Network> network;
  try {
    network = std::make_unique<sr::Network>(std::move(weights), *backend);
  } catch (const sr::Error& e) {
    sr::fail(model_path, ": ", e.what());
  }
  sr::Network& net = *network;
  weights = {};  // the backend holds the only copy (the move freed each tensor once uploaded)
  const sr::ModelConfig& cfg = net.config();
  int r = o.r;
  if (cfg.ratio > 0 && r > 0 && r != cfg.ratio)
    sr::fail("model ", model_path, " serves r = ", cfg.ratio, ", not r = ", r);
  if (r == 0) r = cfg.ratio;
  if (r == 0 && !npy) throw UsageError("--r is required: the model serves any ratio");
  log(o, "model %s: %s, %.1fM parameters, patch %d, backend %s%s, batch %d (loaded in %.2f s)\n",
      model_path.c_str(), sr::arch_name(cfg.arch), net.parameter_count() / 1e6, cfg.patch_length,
      backend->description().c_str(), backend_note.c_str(), o.patches, seconds_since(start));
  if (!band_note.empty()) log(o, "%s\n", band_note.c_str());
  if (!why.empty()) log(o, "  model chosen for r = %d: %s\n", r, why.c_str());
  if (on_cuda && cfg.arch == sr::Arch::afilm &&
      sr::parse_precision(o.precision) == sr::Precision::bf16)
    std::fprintf(stderr,
                 "warning: bf16 on an AFiLM model: its attention amplifies the rounding (emulated "
                 "residual error 10-100x over the accuracy bound, docs/BENCHMARKS.md); prefer "
                 "--precision tf32\n");
  if (npy) return run_npy(o, model_path, net);
  if (o.generated_gain == "model") gain_db = cfg.generated_gain_db;
  sr::AudioReader probe(o.in);
  sr::ExtensionPlan plan = sr::plan_extension(probe.sample_rate(), band.band_hz, band.edge_hz, cfg,
                                              r, o.out_rate, o.raw, gain_db);
  if (line_threshold_db) plan.line_threshold_db = *line_threshold_db;
  log(o, "%s\n", sr::describe(plan).c_str());
  return run_audio(o, net, plan);
}

}  // namespace

int main(int argc, char** argv) {
  return sr::cli::run_main("sr-infer", argv, [&] { return run(argc, argv); });
}
