// sr-prep: training patches from audio files, as the originals' prep_vctk.py makes them (spec 5.1):
// read (resampled to --sr), crop to a multiple of r, low-rate copy (decimate or plain
// subsampling), cubic spline back to the high rate, patches at a stride -> HDF5 data/label.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "args.h"
#include "sr/error.h"
#include "sr/io/atomic_file.h"
#include "sr/io/audio.h"
#include "sr/io/decimate.h"
#include "sr/io/degrade.h"
#include "sr/io/hdf5_patches.h"
#include "sr/io/prep_schemes.h"
#include "sr/io/resample.h"
#include "sr/io/spline.h"

namespace {

namespace fs = std::filesystem;
using sr::cli::UsageError;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string file_list, in_dir, out, out_dir, split, sam = "1.0", downsample, silence = "0";
  int scale = 2, dimension = 8192, stride = 4096, sr = 16000, batch_size = 128, seed = 0;
  bool low_pass = false, interpolate = false, quiet = false, mvn = false;
  double keep = 1.0;         // --sam parsed
  double silence_ratio = 0;  // --silence-filter parsed (0 = off)
};

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

bool is_audio_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  for (const char* e : {".wav", ".flac", ".ogg", ".opus", ".aiff", ".aif", ".au", ".caf"})
    if (ext == e) return true;
  return false;
}

// --file-list entries (relative ones under --in-dir, as prep_vctk.py joins them), else every
// audio file under --in-dir, recursively, in sorted order.
std::vector<std::string> input_files(const Options& o) {
  std::vector<std::string> files;
  if (!o.file_list.empty()) {
    std::ifstream in(o.file_list);
    if (!fs::is_regular_file(o.file_list) || !in) sr::fail(o.file_list, ": no such file list");
    std::string line;
    while (std::getline(in, line)) {
      const size_t a = line.find_first_not_of(" \t\r\n");
      if (a == std::string::npos) continue;
      const size_t b = line.find_last_not_of(" \t\r\n");
      std::string name = line.substr(a, b - a + 1);
      if (!o.in_dir.empty() && fs::path(name).is_relative())
        name = (fs::path(o.in_dir) / name).string();
      files.push_back(name);
    }
    if (files.empty()) sr::fail(o.file_list, ": the file list is empty");
  } else {
    if (!fs::is_directory(o.in_dir)) sr::fail(o.in_dir, ": no such directory");
    for (const auto& e : fs::recursive_directory_iterator(o.in_dir))
      if (e.is_regular_file() && is_audio_name(e.path())) files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    if (files.empty()) sr::fail(o.in_dir, ": no audio files (.wav, .flac, .ogg, ...) in it");
  }
  for (const std::string& f : files)
    if (!fs::is_regular_file(f)) sr::fail(f, ": no such file");
  return files;
}

// Unbiased integer in [0, n) from a 64-bit generator (std::uniform_int_distribution differs
// between standard libraries; the split must not).
uint64_t below(std::mt19937_64& gen, uint64_t n) {
  const uint64_t threshold = (0 - n) % n;
  for (;;) {
    const uint64_t v = gen();
    if (v >= threshold) return v % n;
  }
}

// Uniform in [0, 1), 53 bits.
double uniform01(std::mt19937_64& gen) {
  return static_cast<double>(gen() >> 11) * (1.0 / 9007199254740992.0);
}

struct Totals {
  int64_t files = 0, short_files = 0, patches = 0, dropped = 0;
  double seconds = 0;
};

class Progress {
 public:
  explicit Progress(bool quiet) : quiet_(quiet), last_(Clock::now()) {}
  ~Progress() { end_line(); }
  void update(const std::string& what, size_t done, size_t total, int64_t patches) {
    if (quiet_ || seconds_since(last_) < 0.5) return;
    last_ = Clock::now();
    std::fprintf(stderr, "\r  %s: %zu/%zu files, %lld patches", what.c_str(), done, total,
                 static_cast<long long>(patches));
    open_ = true;
  }
  void end_line() {
    if (open_) std::fputc('\n', stderr);
    open_ = false;
  }

 private:
  bool quiet_, open_ = false;
  Clock::time_point last_;
};

// One high-rate signal in mono at `rate`: channels averaged (librosa.load(mono=True)), resampled.
std::vector<float> load_mono(const std::string& path, int rate) {
  sr::Audio a = sr::read_audio(path);
  std::vector<float> x(a.frames());
  for (size_t i = 0; i < x.size(); ++i) {
    double s = 0;
    for (int c = 0; c < a.channels; ++c) s += a.samples[i * a.channels + c];
    x[i] = static_cast<float>(s / a.channels);
  }
  return a.sample_rate == rate ? x : sr::resample(x, a.sample_rate, rate);
}

// The spline-interpolated low-rate input of one file by --downsample (x may be rescaled in place by
// `varied`'s random gain, which the label then shares).
std::vector<float> low_rate_input(const Options& o, std::vector<float>& x, std::mt19937_64& gen) {
  const int r = o.scale;
  std::string scheme = o.downsample;
  if (scheme == "mix") {  // the recipe's "random": one of its three schemes per file
    static const char* const kSchemes[3] = {"cheby1", "decimate", "fft"};
    scheme = kSchemes[below(gen, 3)];
  }
  std::vector<float> low;
  if (scheme == "decimate") {
    low = sr::decimate(x, r);
  } else if (scheme == "cheby1") {
    low = sr::cheby1_causal_subsample(x, r);
  } else if (scheme == "fft") {
    low = sr::fft_resample(x, x.size() / r);
  } else if (scheme == "varied") {
    sr::DegradeOptions d;
    d.r = r;
    return sr::degrade(x, d, gen());
  } else {
    low.reserve(x.size() / r);
    for (size_t i = 0; i < x.size(); i += r) low.push_back(x[i]);
  }
  return sr::spline_upsample(low, r);
}

// Writes the patches of `files` to `out`; returns what it did.
Totals make_patches(const Options& o, const std::vector<std::string>& files, const std::string& out,
                    const std::string& label, std::mt19937_64& gen) {
  const int r = o.scale, d = o.dimension;
  sr::PatchWriter writer(out, d);
  Totals t;
  Progress progress(o.quiet);
  std::vector<float> data, labels;
  // --downsample mix/varied draw per file from their own generator (--sam's stays as it was).
  std::mt19937_64 scheme_gen(static_cast<uint64_t>(o.seed) * 0x9E3779B97F4A7C15ull + 2);
  for (size_t f = 0; f < files.size(); ++f) {
    std::vector<float> x = load_mono(files[f], o.sr);
    if (o.silence_ratio > 0) x = sr::trim_silence(x, o.silence_ratio, 2048, 1024);
    if (o.mvn) sr::mean_variance_normalize(x);
    x.resize(x.size() - x.size() % r);  // crop to a multiple of r
    t.files += 1;
    t.seconds += static_cast<double>(x.size()) / o.sr;
    if (x.size() < static_cast<size_t>(d) || x.empty()) {
      t.short_files += 1;
      continue;  // no patch fits; the originals skip such files the same way
    }
    std::vector<float> interp;
    try {
      interp = low_rate_input(o, x, scheme_gen);
    } catch (const sr::Error& e) {
      sr::fail(files[f], ": ", e.what());
    }
    SR_CHECK(interp.size() == x.size(), "spline length");
    data.clear();
    labels.clear();
    int64_t n = 0;
    for (size_t i = 0; i + d <= x.size(); i += o.stride) {
      if (uniform01(gen) >= o.keep) continue;  // --sam: keep with probability p
      data.insert(data.end(), interp.begin() + i, interp.begin() + i + d);
      labels.insert(labels.end(), x.begin() + i, x.begin() + i + d);
      ++n;
    }
    writer.append(data.data(), labels.data(), n);
    progress.update(label, f + 1, files.size(), writer.count());
  }
  progress.end_line();
  const int64_t all = writer.count();
  const int64_t keep = all / o.batch_size * o.batch_size;
  if (keep == 0)
    sr::fail(out, ": only ", all, " patches from ", files.size(),
             " files, fewer than one batch (--batch-size ", o.batch_size, ")");
  writer.truncate(keep);
  writer.set_attribute("scale", int64_t{r});
  writer.set_attribute("sample_rate", int64_t{o.sr});
  writer.set_attribute("dimension", int64_t{d});
  writer.set_attribute("stride", int64_t{o.stride});
  writer.set_attribute("low_pass", int64_t{o.downsample == "decimate" ? 1 : 0});
  writer.set_attribute("downsample", o.downsample);
  writer.set_attribute("mvn", int64_t{o.mvn ? 1 : 0});
  writer.set_attribute("silence_filter", o.silence);
  writer.set_attribute("interpolate", int64_t{1});
  writer.set_attribute("seed", int64_t{o.seed});
  writer.set_attribute("sam", o.sam);
  writer.set_attribute("files", t.files);
  writer.set_attribute("tool", std::string("sr-prep"));
  writer.finish();
  t.patches = keep;
  t.dropped = all - keep;
  return t;
}

void report(const Options& o, const std::string& out, const Totals& t, double elapsed) {
  if (o.quiet) return;
  std::fprintf(stderr,
               "%s: %lld patches of %d (r = %d, %s), from %lld files, %.1f s of audio "
               "(%.2f h)",
               out.c_str(), static_cast<long long>(t.patches), o.dimension, o.scale,
               o.downsample == "subsample"  ? "subsampled"
               : o.downsample == "decimate" ? "low-pass"
                                            : o.downsample.c_str(),
               static_cast<long long>(t.files), t.seconds, t.seconds / 3600.0);
  if (t.short_files)
    std::fprintf(stderr, "; %lld shorter than a patch", static_cast<long long>(t.short_files));
  if (t.dropped)
    std::fprintf(stderr, "; %lld dropped for a multiple of %d", static_cast<long long>(t.dropped),
                 o.batch_size);
  std::fprintf(stderr, "; %.1f s\n", elapsed);
}

struct Split {
  double train = 0, val = 0, test = 0;
};

Split parse_split(const std::string& text) {
  Split s;
  bool seen[3] = {false, false, false};
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::string part = text.substr(start, comma - start);
    const size_t eq = part.find('=');
    if (eq == std::string::npos)
      throw UsageError("--split expects NAME=FRACTION,... (train, val, test), got '" + text + "'");
    const std::string name = part.substr(0, eq), value = part.substr(eq + 1);
    const std::optional<double> parsed = sr::cli::parse_number(value);
    const double v = parsed.value_or(-1);
    if (!parsed || !(v >= 0 && v <= 1))
      throw UsageError("--split: '" + part + "' needs a fraction in [0, 1]");
    const int k = name == "train" ? 0 : name == "val" ? 1 : name == "test" ? 2 : -1;
    if (k < 0) throw UsageError("--split: unknown part '" + name + "' (train, val or test)");
    if (seen[k]) throw UsageError("--split: '" + name + "' given twice");
    seen[k] = true;
    (k == 0 ? s.train : k == 1 ? s.val : s.test) = v;
    start = comma + 1;
  }
  if (std::fabs(s.train + s.val + s.test - 1.0) > 1e-6)
    throw UsageError("--split fractions must add up to 1, got '" + text + "'");
  if (s.train <= 0) throw UsageError("--split needs a train fraction above 0");
  return s;
}

void write_list(const std::string& path, const std::vector<std::string>& files) {
  sr::AtomicFile out(path);
  {
    std::ofstream f(out.temp_path());
    for (const std::string& name : files) f << name << '\n';
    f.flush();
    if (!f) sr::fail(path, ": cannot write");
  }
  out.commit();
}

int run_split(const Options& o, std::vector<std::string> files) {
  const Split s = parse_split(o.split);
  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  if (!fs::is_directory(o.out_dir)) sr::fail(o.out_dir, ": cannot create the directory");
  // Seeded Fisher-Yates: the same list and seed give the same split everywhere.
  std::mt19937_64 shuffle_gen(static_cast<uint64_t>(o.seed));
  for (size_t i = files.size(); i > 1; --i) std::swap(files[i - 1], files[below(shuffle_gen, i)]);
  const size_t n = files.size();
  const size_t n_train = std::min(n, static_cast<size_t>(std::llround(s.train * n)));
  const size_t n_val = std::min(n - n_train, static_cast<size_t>(std::llround(s.val * n)));
  const std::vector<std::string> train(files.begin(), files.begin() + n_train);
  const std::vector<std::string> val(files.begin() + n_train, files.begin() + n_train + n_val);
  const std::vector<std::string> test(files.begin() + n_train + n_val, files.end());
  if (train.empty()) sr::fail("the train part of the split is empty (", n, " files)");
  if (s.val > 0 && val.empty()) sr::fail("the val part of the split is empty (", n, " files)");
  if (!o.quiet)
    std::fprintf(stderr, "split %zu files (seed %d): train %zu, val %zu, test %zu\n", n, o.seed,
                 train.size(), val.size(), test.size());
  const fs::path dir(o.out_dir);
  write_list((dir / "train.txt").string(), train);
  write_list((dir / "val.txt").string(), val);
  write_list((dir / "test.txt").string(), test);
  // Patch sampling (--sam) draws from its own generator, so it does not shift the split.
  std::mt19937_64 gen(static_cast<uint64_t>(o.seed) + 1);
  auto start = Clock::now();
  const std::string train_h5 = (dir / "train.h5").string();
  const Totals train_totals = make_patches(o, train, train_h5, "train", gen);
  report(o, train_h5, train_totals, seconds_since(start));
  if (!val.empty()) {
    start = Clock::now();
    const std::string val_h5 = (dir / "val.h5").string();
    const Totals val_totals = make_patches(o, val, val_h5, "val", gen);
    report(o, val_h5, val_totals, seconds_since(start));
  }
  if (!o.quiet)
    std::fprintf(stderr, "%s: %zu test files (evaluate them with sr-eval --file-list)\n",
                 (dir / "test.txt").c_str(), test.size());
  return 0;
}

int run(int argc, char** argv) {
  Options o;
  sr::cli::ArgParser p(
      "sr-prep",
      "sr-prep (--file-list F | --in-dir D) (--out OUT.h5 | --split SPEC --out-dir DIR) [options]",
      "Makes training patches as the originals' prep_vctk.py does: each file is read (mono,\n"
      "resampled to --sr), cropped to a multiple of --scale, made low-rate (--low-pass:\n"
      "scipy's decimate; else x[::r]), spline-interpolated back to the high rate (always on),\n"
      "and cut into patches of --dimension samples every --stride. Writes HDF5 datasets 'data'\n"
      "(interpolated low-rate) and 'label' (high-rate), float32 (N, dimension, 1).");
  p.option("file-list", 0, "F", "text file, one audio path per line (relative to --in-dir)",
           &o.file_list);
  p.option("in-dir", 0, "D", "folder of the --file-list entries; alone: all audio under it",
           &o.in_dir);
  p.option("out", 'o', "OUT.h5", "output HDF5 file", &o.out);
  p.option("scale", 'r', "R", "upscaling ratio r", &o.scale);
  p.option("dimension", 'd', "N", "patch length in high-rate samples (-1 is not supported)",
           &o.dimension);
  p.option("stride", 0, "N", "distance between patch starts", &o.stride);
  p.option("sr", 0, "HZ", "high sample rate; other rates are resampled (soxr HQ)", &o.sr);
  p.flag("low-pass", 0, "decimate (Chebyshev I + zero phase) instead of x[::r]", &o.low_pass);
  p.option("downsample", 0, "NAME",
           "subsample, decimate, cheby1, fft, mix or varied (below; default subsample)",
           &o.downsample);
  p.flag("mvn", 0, "mean-variance normalise each file (after the silence filter)", &o.mvn);
  p.option("silence-filter", 0, "T",
           "trim leading/trailing frames below energy ratio T of the loudest (0 = off)",
           &o.silence);
  p.flag("interpolate", 0, "accepted for compatibility: the spline is always on", &o.interpolate);
  p.option("batch-size", 'b', "N", "keep a multiple of N patches (the first ones)", &o.batch_size);
  p.option("sam", 0, "P", "keep each patch with probability P", &o.sam);
  p.option("seed", 's', "N", "seed of --sam and of --split's shuffle", &o.seed);
  p.option("split", 0, "SPEC", "split the files, e.g. train=0.8,val=0.1,test=0.1", &o.split);
  p.option("out-dir", 0, "DIR", "with --split: train.h5, val.h5 and train/val/test.txt",
           &o.out_dir);
  p.flag("quiet", 'q', "no progress or summary on stderr", &o.quiet);
  p.epilog(
      "Differences from prep_vctk.py: --interpolate is always on (without it the original\n"
      "cannot run under Python 3); --dimension -1 (whole files) is not supported; resampling\n"
      "uses soxr HQ, not resampy's kaiser_best; the low-pass filter runs in double (scipy on\n"
      "librosa's float32 ran in float32, 1e-5 away); --sam is seeded. --split shuffles the\n"
      "FILES (seeded) and splits them, so no recording lands in two parts; test.txt lists the\n"
      "test files for sr-eval. HDF5 attributes record scale, sample_rate, dimension, stride,\n"
      "low_pass, downsample, mvn, silence_filter, sam and seed.\n"
      "The robust-SR recipe (tan90xx/audio-super-resolution-tf, after Wang & Wang, TASLP 2021):\n"
      "--silence-filter 0.05 --mvn --downsample mix --dimension 2048 --stride 1024. Its schemes:\n"
      "cheby1 = Chebyshev I order 8, 1 dB ripple, cutoff 1/r of Nyquist, causal, then x[::r];\n"
      "decimate = scipy's decimate (= --low-pass); fft = scipy.signal.resample; mix = one of\n"
      "the three per file (seeded). varied = sr-train --degrade's draw per file (the label\n"
      "shares its random gain). The silence filter is librosa.effects.trim at -10 log10(T) dB\n"
      "(2048-sample frames, hop 1024), as the recipe's code calls it.\n"
      "Exit codes: 0 success, 1 error (bad input or output), 2 usage error.");
  if (!p.parse(argc, argv)) return 0;
  if (o.file_list.empty() && o.in_dir.empty())
    throw UsageError("give the inputs: --file-list F or --in-dir D");
  if (o.dimension == -1)
    throw UsageError(
        "--dimension -1 (whole files, the originals' full-data pickles) is not supported; give a "
        "patch length");
  if (o.scale < 2 || o.scale > 64) throw UsageError("--scale must be between 2 and 64");
  if (o.dimension < 1) throw UsageError("--dimension must be positive");
  if (o.stride < 1) throw UsageError("--stride must be positive");
  if (o.sr < 1000 || o.sr > 768000) throw UsageError("--sr must be between 1000 and 768000");
  if (o.batch_size < 1) throw UsageError("--batch-size must be positive");
  if (o.low_pass && !o.downsample.empty() && o.downsample != "decimate")
    throw UsageError("--low-pass is --downsample decimate; give one of them");
  if (o.downsample.empty()) o.downsample = o.low_pass ? "decimate" : "subsample";
  {
    bool known = false;
    for (const char* name : {"subsample", "decimate", "cheby1", "fft", "mix", "varied"})
      known = known || o.downsample == name;
    if (!known)
      throw UsageError("--downsample must be subsample, decimate, cheby1, fft, mix or varied");
    const std::optional<double> v = sr::cli::parse_number(o.silence);
    o.silence_ratio = v.value_or(-1);
    if (!v || !(o.silence_ratio >= 0 && o.silence_ratio < 1))
      throw UsageError("--silence-filter must be a ratio in [0, 1), got '" + o.silence + "'");
  }
  {
    const std::optional<double> v = sr::cli::parse_number(o.sam);
    o.keep = v.value_or(-1);
    if (!v || !(o.keep > 0 && o.keep <= 1))
      throw UsageError("--sam must be a probability in (0, 1], got '" + o.sam + "'");
  }
  const bool split = !o.split.empty();
  if (split) {
    if (o.out_dir.empty()) throw UsageError("--split needs --out-dir");
    if (!o.out.empty()) throw UsageError("--split writes into --out-dir; drop --out");
    parse_split(o.split);  // usage errors before any work
  } else {
    if (o.out.empty()) throw UsageError("--out OUT.h5 is required (or --split with --out-dir)");
    if (!o.out_dir.empty()) throw UsageError("--out-dir goes with --split");
  }
  const std::vector<std::string> files = input_files(o);
  if (split) return run_split(o, files);
  if (fs::is_directory(o.out)) sr::fail(o.out, ": is a directory");
  std::mt19937_64 gen(static_cast<uint64_t>(o.seed) + 1);
  auto start = Clock::now();
  const Totals totals = make_patches(o, files, o.out, fs::path(o.out).filename().string(), gen);
  report(o, o.out, totals, seconds_since(start));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return sr::cli::run_main("sr-prep", argv, [&] { return run(argc, argv); });
}
