// sr-eval: SNR and LSD of a model and of the spline baseline on high-rate reference files. Each
// file's low-rate input is made exactly as training made it (decimate with --low-pass, else
// x[::r]); the model runs through the streaming Upsampler like sr-infer.
#include <png.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "args.h"
#include "sr/backend.h"
#include "sr/error.h"
#include "sr/io/atomic_file.h"
#include "sr/io/audio.h"
#include "sr/io/decimate.h"
#include "sr/io/resample.h"
#include "sr/io/spline.h"
#include "sr/metrics.h"
#include "sr/network.h"
#include "sr/upsampler.h"
#include "sr/weights.h"

namespace {

namespace fs = std::filesystem;
using sr::cli::UsageError;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string model, file_list, json, out_dir, spectrogram, spectrogram_file, backend = "auto";
  std::vector<std::string> files;
  int r = 0, overlap = -1, batch = 4;
  bool low_pass = false, quiet = false;
  int threads = 0;
};

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Scores {
  double snr = 0, lsd_k21 = 0, lsd_papers = 0;
};

struct FileResult {
  std::string file;
  double seconds = 0;
  int64_t samples = 0;
  Scores spline, model;
};

Scores score(const std::vector<float>& reference, const std::vector<float>& estimate) {
  Scores s;
  s.snr = sr::snr_db(reference, estimate);
  const sr::LogSpectralDistance lsd =
      sr::log_spectral_distance(reference.data(), estimate.data(), reference.size());
  s.lsd_k21 = lsd.k21;
  s.lsd_papers = lsd.papers;
  return s;
}

// ------------------------------------------------------------------------------------------------
// Spectrogram picture: three panels (reference, spline, model), low frequencies at the bottom of
// each, one dB scale (the reference's peak down 80 dB), a viridis colormap, a white line between
// panels. At most kMaxWidth columns: longer signals average neighbouring frames.

constexpr int kNfft = 512, kHop = 128, kMaxWidth = 2000, kSeparator = 2;
constexpr double kRangeDb = 80.0;

// viridis at 9 evenly spaced points (matplotlib's map, as R's viridisLite lists it), linearly
// interpolated in between.
void viridis(double v, unsigned char* rgb) {
  static const unsigned char table[9][3] = {
      {0x44, 0x01, 0x54}, {0x47, 0x2D, 0x7B}, {0x3B, 0x52, 0x8B},
      {0x2C, 0x72, 0x8E}, {0x21, 0x90, 0x8C}, {0x27, 0xAD, 0x81},
      {0x5D, 0xC8, 0x63}, {0xAA, 0xDC, 0x32}, {0xFD, 0xE7, 0x25}};
  v = std::min(1.0, std::max(0.0, v)) * 8.0;
  const int i = std::min(7, static_cast<int>(v));
  const double f = v - i;
  for (int c = 0; c < 3; ++c)
    rgb[c] = static_cast<unsigned char>(std::lround(table[i][c] * (1 - f) + table[i + 1][c] * f));
}

// (frames, bins) dB -> (width, bins), averaging groups of frames.
std::vector<float> pooled_columns(const sr::Spectrogram& s, int width) {
  std::vector<float> out(static_cast<size_t>(width) * s.bins, 0.0f);
  for (int c = 0; c < width; ++c) {
    const int64_t a = s.frames * c / width, b = std::max(a + 1, s.frames * (c + 1) / width);
    for (int k = 0; k < s.bins; ++k) {
      double sum = 0;
      for (int64_t t = a; t < b; ++t) sum += s.db[t * s.bins + k];
      out[static_cast<size_t>(c) * s.bins + k] = static_cast<float>(sum / (b - a));
    }
  }
  return out;
}

void write_spectrogram_png(const std::string& path,
                           const std::vector<const std::vector<float>*>& signals) {
  std::vector<sr::Spectrogram> specs;
  for (const auto* x : signals)
    specs.push_back(sr::log_power_spectrogram(x->data(), x->size(), kNfft, kHop));
  const int bins = specs[0].bins;
  const int width = static_cast<int>(std::min<int64_t>(specs[0].frames, kMaxWidth));
  const int panels = static_cast<int>(specs.size());
  const int height = panels * bins + (panels - 1) * kSeparator;
  std::vector<std::vector<float>> columns;
  for (const auto& s : specs) columns.push_back(pooled_columns(s, width));
  const float top = *std::max_element(columns[0].begin(), columns[0].end());
  const double floor_db = top - kRangeDb;
  std::vector<unsigned char> image(static_cast<size_t>(width) * height * 3, 255);
  for (int p = 0; p < panels; ++p)
    for (int k = 0; k < bins; ++k) {
      const int row = p * (bins + kSeparator) + (bins - 1 - k);  // high frequencies on top
      for (int c = 0; c < width; ++c)
        viridis((columns[p][static_cast<size_t>(c) * bins + k] - floor_db) / kRangeDb,
                &image[(static_cast<size_t>(row) * width + c) * 3]);
    }
  sr::AtomicFile out(path);
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(width);
  png.height = static_cast<png_uint_32>(height);
  png.format = PNG_FORMAT_RGB;
  if (!png_image_write_to_file(&png, out.temp_path().c_str(), 0, image.data(), width * 3, nullptr))
    sr::fail(path, ": cannot write the PNG (", png.message, ")");
  out.commit();
}

// ------------------------------------------------------------------------------------------------

std::vector<std::string> input_files(const Options& o) {
  std::vector<std::string> files = o.files;
  if (!o.file_list.empty()) {
    std::ifstream in(o.file_list);
    if (!fs::is_regular_file(o.file_list) || !in) sr::fail(o.file_list, ": no such file list");
    std::string line;
    size_t listed = 0;
    while (std::getline(in, line)) {
      const size_t a = line.find_first_not_of(" \t\r\n");
      if (a == std::string::npos) continue;
      const size_t b = line.find_last_not_of(" \t\r\n");
      files.push_back(line.substr(a, b - a + 1));
      ++listed;
    }
    if (listed == 0) sr::fail(o.file_list, ": the file list is empty");
  }
  for (const std::string& f : files)
    if (!fs::is_regular_file(f)) sr::fail(f, ": no such file");
  return files;
}

// Mono (channels averaged) at `rate` (0: the file's own).
std::vector<float> load_mono(const std::string& path, int rate, int* file_rate) {
  sr::Audio a = sr::read_audio(path);
  *file_rate = a.sample_rate;
  if (rate <= 0) rate = a.sample_rate;
  std::vector<float> x(a.frames());
  for (size_t i = 0; i < x.size(); ++i) {
    double s = 0;
    for (int c = 0; c < a.channels; ++c) s += a.samples[i * a.channels + c];
    x[i] = static_cast<float>(s / a.channels);
  }
  return a.sample_rate == rate ? x : sr::resample(x, a.sample_rate, rate);
}

std::string fixed(double v, int decimals) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (std::isnan(v)) return "nan";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

nlohmann::json number(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);  // JSON has no inf
}

nlohmann::json scores_json(const Scores& s) {
  return {{"snr_db", number(s.snr)},
          {"lsd_k21", number(s.lsd_k21)},
          {"lsd_papers", number(s.lsd_papers)}};
}

void print_table(const std::vector<FileResult>& results, const FileResult& mean) {
  size_t w = 4;
  for (const auto& r : results) w = std::max(w, r.file.size());
  w = std::min<size_t>(w, 60);
  auto pad = [&](std::string s) {
    if (s.size() > w) s = "..." + s.substr(s.size() - (w - 3));
    s.resize(w, ' ');
    return s;
  };
  const char* head[7] = {"seconds",   "SNR spline",   "SNR model",  "LSD spline",
                         "LSD model", "LSD-p spline", "LSD-p model"};
  std::string line = pad("file");
  for (const char* h : head) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "  %12s", h);
    line += buf;
  }
  std::printf("%s\n", line.c_str());
  auto row = [&](const FileResult& r) {
    std::string s = pad(r.file);
    const std::string cells[7] = {fixed(r.seconds, 2),         fixed(r.spline.snr, 2),
                                  fixed(r.model.snr, 2),       fixed(r.spline.lsd_k21, 4),
                                  fixed(r.model.lsd_k21, 4),   fixed(r.spline.lsd_papers, 4),
                                  fixed(r.model.lsd_papers, 4)};
    for (const auto& c : cells) {
      char buf[40];
      std::snprintf(buf, sizeof buf, "  %12s", c.c_str());
      s += buf;
    }
    std::printf("%s\n", s.c_str());
  };
  for (const auto& r : results) row(r);
  if (results.size() > 1) row(mean);
  std::printf(
      "SNR in dB (10 log10 of signal over error power, the AFiLM paper's). LSD: K21's (ln power,\n"
      "RMS over time then mean over frequency, clamped at 10). LSD-p: the papers' (log10 power,\n"
      "RMS over frequency then mean over time). STFT: n_fft 2048, hop 512, Hann, centred.\n");
}

// Outputs written file by file (--out-dir WAVs, the PNG): removed again when a later file fails,
// so a failing run leaves nothing behind.
class OutputsKeptOnSuccess {
 public:
  ~OutputsKeptOnSuccess() {
    if (!kept_)
      for (const std::string& path : paths_) std::remove(path.c_str());
  }
  void add(const std::string& path) { paths_.push_back(path); }
  void keep() { kept_ = true; }

 private:
  std::vector<std::string> paths_;
  bool kept_ = false;
};

int run(int argc, char** argv) {
  Options o;
  sr::cli::ArgParser p(
      "sr-eval", "sr-eval --model M.safetensors (FILE... | --file-list F) [options]",
      "Scores a model against the cubic-spline baseline on high-rate reference recordings: each\n"
      "FILE is read (mono; resampled to the model's rate), cropped to a multiple of r and made\n"
      "low-rate as in training (--low-pass: scipy's decimate; else x[::r], as sr-prep without\n"
      "--low-pass); the low-rate signal goes through the model (streaming, like sr-infer) and\n"
      "through the spline. Prints SNR and both LSDs per file and their mean over files.");
  p.positional_list("FILE...", "high-rate reference recordings (or --file-list)", &o.files);
  p.option("model", 'm', "PATH", "weights (.safetensors); required", &o.model);
  p.option("r", 'r', "R", "upscaling ratio (0 = the model's)", &o.r);
  p.option("file-list", 0, "F", "text file, one reference audio path per line", &o.file_list);
  p.flag("low-pass", 0, "make the low-rate input with decimate, not x[::r]", &o.low_pass);
  p.option("json", 'j', "OUT.json", "also write every number as JSON", &o.json);
  p.option("out-dir", 'o', "DIR", "write NAME.hr/.lr/.sr/.spline.wav for each FILE", &o.out_dir);
  p.option("spectrogram", 0, "PNG", "reference/spline/model spectrograms of one file",
           &o.spectrogram);
  p.option("spectrogram-file", 0, "FILE", "which FILE --spectrogram shows (default: the first)",
           &o.spectrogram_file);
  p.option("backend", 'b', "NAME", "auto, cpu or cuda", &o.backend);
  p.option("batch", 0, "N", "patches per network call", &o.batch);
  p.option("overlap", 0, "N", "as sr-infer: -1 = patch/8; 0 = the originals' tiling", &o.overlap);
  p.option("threads", 0, "N", "CPU threads; 0 = the cores not busy with other work", &o.threads);
  p.flag("quiet", 'q', "no progress or timing on stderr", &o.quiet);
  p.epilog(
      "JSON: per file {\"file\", \"seconds\", \"samples\", \"spline\": {\"snr_db\",\n"
      "\"lsd_k21\", \"lsd_papers\"}, \"model\": {...}} under \"files\", their mean under\n"
      "\"mean\"; an infinite SNR (identical signals) is null. The PNG stacks reference, spline\n"
      "and model (top to bottom), n_fft 512, one dB scale (80 dB below the reference's peak),\n"
      "viridis.\n"
      "Exit codes: 0 success, 1 error (bad input, model or file), 2 usage error.");
  if (!p.parse(argc, argv)) return 0;
  sr::cli::apply_threads_flag(o.threads);
  if (o.model.empty()) throw UsageError("--model is required");
  if (o.files.empty() && o.file_list.empty())
    throw UsageError("give reference files: FILE... or --file-list F");
  if (o.r < 0 || o.r > 64) throw UsageError("--r must be between 1 and 64 (0 = the model's)");
  if (o.batch < 1 || o.batch > 4096) throw UsageError("--batch must be between 1 and 4096");
  if (o.overlap < -1) throw UsageError("--overlap must be -1, 0 or positive");
  if (o.backend != "auto" && o.backend != "cpu" && o.backend != "cuda")
    throw UsageError("--backend must be auto, cpu or cuda, got '" + o.backend + "'");
  if (!o.spectrogram_file.empty() && o.spectrogram.empty())
    throw UsageError("--spectrogram-file goes with --spectrogram");

  auto start = Clock::now();
  const std::vector<std::string> files = input_files(o);  // cheap checks before the model loads
  size_t picture = 0;
  if (!o.spectrogram_file.empty()) {
    picture = files.size();
    std::error_code ec;
    for (size_t i = 0; i < files.size() && picture == files.size(); ++i)
      if (files[i] == o.spectrogram_file || fs::equivalent(files[i], o.spectrogram_file, ec))
        picture = i;
    if (picture == files.size())
      throw UsageError("--spectrogram-file " + o.spectrogram_file + " is not one of the FILEs");
  }
  if (!o.out_dir.empty()) {
    std::set<std::string> stems;
    for (const auto& f : files)
      if (!stems.insert(fs::path(f).stem().string()).second)
        sr::fail("two FILEs are named ", fs::path(f).stem().string(),
                 ": their --out-dir outputs would overwrite each other");
    std::error_code ec;
    fs::create_directories(o.out_dir, ec);
    if (!fs::is_directory(o.out_dir)) sr::fail(o.out_dir, ": cannot create the directory");
  }
  if (!fs::is_regular_file(o.model)) sr::fail(o.model, ": no such model file");
  sr::WeightFile weights = sr::load_weights(o.model);
  auto backend = sr::make_backend(o.backend);
  std::unique_ptr<sr::Network> network;
  try {
    network = std::make_unique<sr::Network>(std::move(weights), *backend);
  } catch (const sr::Error& e) {
    sr::fail(o.model, ": ", e.what());
  }
  weights = {};  // the backend holds the only copy
  sr::Network& net = *network;
  const sr::ModelConfig& cfg = net.config();
  int r = o.r;
  if (cfg.ratio > 0 && r > 0 && r != cfg.ratio)
    sr::fail("model ", o.model, " serves r = ", cfg.ratio, ", not r = ", r);
  if (r == 0) r = cfg.ratio;
  if (r == 0) throw UsageError("--r is required: the model serves any ratio");
  if (!o.quiet)
    std::fprintf(stderr, "model %s: %s, %.1fM parameters, r = %d, %s (loaded in %.2f s)\n",
                 o.model.c_str(), sr::arch_name(cfg.arch), net.parameter_count() / 1e6, r,
                 backend->description().c_str(), seconds_since(start));

  std::vector<FileResult> results;
  OutputsKeptOnSuccess outputs;
  double audio_seconds = 0;
  int rate_used = cfg.sample_rate;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string& path = files[i];
    int file_rate = 0;
    std::vector<float> x = load_mono(path, cfg.sample_rate, &file_rate);
    // The model's rate, or (a model serving any rate) the file's own.
    const int rate = cfg.sample_rate > 0 ? cfg.sample_rate : file_rate;
    rate_used = rate;
    x.resize(x.size() - x.size() % r);
    if (x.empty()) sr::fail(path, ": shorter than r = ", r, " samples");
    if (rate % r != 0) sr::fail(path, ": rate ", rate, " Hz is not divisible by r = ", r);
    std::vector<float> low;
    if (o.low_pass) {
      try {
        low = sr::decimate(x, r);
      } catch (const sr::Error& e) {
        sr::fail(path, ": ", e.what());
      }
    } else {
      for (size_t k = 0; k < x.size(); k += r) low.push_back(x[k]);
    }
    const std::vector<float> spline = sr::spline_upsample(low, r);
    std::vector<float> model;
    model.reserve(x.size());
    {
      sr::UpsampleOptions uo;
      uo.ratio = r;
      uo.overlap = o.overlap;
      uo.batch = o.batch;
      sr::Upsampler up(net, 1, uo);
      auto sink = [&](const float* frames, size_t count) {
        model.insert(model.end(), frames, frames + count);
      };
      up.push(low.data(), low.size(), sink);
      up.finish(sink);
    }
    SR_CHECK(model.size() == x.size(), "upsampler output length");
    FileResult res;
    res.file = path;
    res.samples = static_cast<int64_t>(x.size());
    res.seconds = static_cast<double>(x.size()) / rate;
    res.spline = score(x, spline);
    res.model = score(x, model);
    audio_seconds += res.seconds;
    if (!o.quiet)
      std::fprintf(stderr, "[%zu/%zu] %s: %.2f s%s, SNR spline %s / model %s dB\n", i + 1,
                   files.size(), path.c_str(), res.seconds,
                   file_rate != rate
                       ? (" (resampled from " + std::to_string(file_rate) + " Hz)").c_str()
                       : "",
                   fixed(res.spline.snr, 2).c_str(), fixed(res.model.snr, 2).c_str());
    if (!o.out_dir.empty()) {
      const std::string base = (fs::path(o.out_dir) / fs::path(path).stem()).string();
      for (const char* kind : {".hr.wav", ".lr.wav", ".sr.wav", ".spline.wav"})
        outputs.add(base + kind);
      sr::write_audio(base + ".hr.wav", {rate, 1, x});
      sr::write_audio(base + ".lr.wav", {rate / r, 1, low});
      sr::write_audio(base + ".sr.wav", {rate, 1, model});
      sr::write_audio(base + ".spline.wav", {rate, 1, spline});
    }
    if (!o.spectrogram.empty() && i == picture) {
      outputs.add(o.spectrogram);
      write_spectrogram_png(o.spectrogram, {&x, &spline, &model});
    }
    results.push_back(res);
  }

  FileResult mean;
  mean.file = "mean (" + std::to_string(results.size()) + " files)";
  for (const auto& res : results) {
    mean.seconds += res.seconds;
    mean.samples += res.samples;
    for (int k = 0; k < 2; ++k) {
      Scores& m = k ? mean.model : mean.spline;
      const Scores& s = k ? res.model : res.spline;
      m.snr += s.snr / results.size();
      m.lsd_k21 += s.lsd_k21 / results.size();
      m.lsd_papers += s.lsd_papers / results.size();
    }
  }
  print_table(results, mean);
  if (!o.json.empty()) {
    nlohmann::json j;
    j["model"] = o.model;
    j["arch"] = sr::arch_name(cfg.arch);
    j["r"] = r;
    j["sample_rate"] = rate_used;
    j["low_pass"] = o.low_pass;
    j["files"] = nlohmann::json::array();
    for (const auto& res : results)
      j["files"].push_back({{"file", res.file},
                            {"seconds", res.seconds},
                            {"samples", res.samples},
                            {"spline", scores_json(res.spline)},
                            {"model", scores_json(res.model)}});
    j["mean"] = {{"files", results.size()},
                 {"seconds", mean.seconds},
                 {"spline", scores_json(mean.spline)},
                 {"model", scores_json(mean.model)}};
    j["metrics"] = {
        {"snr_db", "10 log10(sum y^2 / sum (y - yhat)^2)"},
        {"lsd_k21", "K21: X = ln(|S|^2 + 1e-8); mean_f sqrt(mean_t (X - Xhat)^2 + 1e-8), max 10"},
        {"lsd_papers", "X = log10(|S|^2 + 1e-8); mean_t sqrt(mean_f (X - Xhat)^2)"},
        {"stft", "n_fft 2048, hop 512, periodic Hann, centred (reflect), as librosa 0.8"}};
    sr::AtomicFile out(o.json);
    {
      std::ofstream f(out.temp_path());
      f << j.dump(2) << '\n';
      f.flush();
      if (!f) sr::fail(o.json, ": cannot write");
    }
    out.commit();
  }
  outputs.keep();
  if (!o.quiet)
    std::fprintf(stderr, "%zu files, %.1f s of audio, in %.2f s\n", results.size(), audio_seconds,
                 seconds_since(start));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return sr::cli::run_main("sr-eval", argv, [&] { return run(argc, argv); });
}
