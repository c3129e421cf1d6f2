// sr-train: train a TFiLM/AFiLM/AudioUNet from scratch (or resume) on HDF5 patches.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <random>

#include "args.h"
#include "model_flags.h"
#include "run_folder.h"
#include "sr/backend.h"
#include "sr/io/atomic_file.h"
#include "sr/io/degrade.h"
#include "sr/io/hdf5_patches.h"
#include "sr/memory_budget.h"
#include "sr/metrics.h"
#include "sr/model.h"
#include "sr/trainer.h"
#include "sr/weights.h"

namespace {

using sr::cli::UsageError;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string train, val, out = "run", resume, init, loss = "mse";
  sr::cli::ModelFlags model;
  int r = 0, epochs = 20, batch = 16, patience = 5, halve_after = 3, crop = 0, seed = 1,
      sample_rate = 16000, max_batches = 0, val_max = 0;
  std::string lr = "3e-4", weight_decay = "0", clip_norm = "0", high_band = "1";
  bool quiet = false, degrade = false;
  std::string degrade_cutoff = "0.7";
  int threads = 0;
};

float parse_float(const std::string& flag, const std::string& text) {
  size_t used = 0;
  float v = 0;
  try {
    v = std::stof(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || !std::isfinite(v) || v < 0)
    throw UsageError(flag + " expects a non-negative number, got '" + text + "'");
  return v;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Loss curves as a small standalone SVG (no plotting dependency).
void write_svg(const std::string& path, const std::vector<double>& train,
               const std::vector<double>& val) {
  const double w = 640, h = 400, m = 50;
  double lo = 1e300, hi = -1e300;
  for (const auto* series : {&train, &val})
    for (double v : *series)
      if (v > 0) lo = std::min(lo, std::log10(v)), hi = std::max(hi, std::log10(v));
  if (!(hi > lo)) hi = lo + 1;
  const size_t n = std::max<size_t>(2, std::max(train.size(), val.size()));
  auto x = [&](size_t i) { return m + (w - 2 * m) * i / (n - 1); };
  auto y = [&](double v) { return h - m - (h - 2 * m) * (std::log10(v) - lo) / (hi - lo); };
  sr::AtomicFile file(path);
  {
    std::ofstream f(file.temp_path());
    f << "<svg xmlns='http://www.w3.org/2000/svg' width='" << w << "' height='" << h
      << "' font-family='sans-serif' font-size='12'>\n<rect width='100%' height='100%' "
         "fill='white'/>\n";
    f << "<line x1='" << m << "' y1='" << h - m << "' x2='" << w - m << "' y2='" << h - m
      << "' stroke='black'/><line x1='" << m << "' y1='" << m << "' x2='" << m << "' y2='" << h - m
      << "' stroke='black'/>\n";
    f << "<text x='" << w / 2 << "' y='" << h - 15 << "' text-anchor='middle'>epoch</text>\n";
    f << "<text x='" << m << "' y='" << m - 10 << "'>loss (log scale) " << std::pow(10, lo)
      << " .. " << std::pow(10, hi) << "</text>\n";
    const char* colors[2] = {"#1f77b4", "#d62728"};
    const char* names[2] = {"train", "validation"};
    int k = 0;
    for (const auto* series : {&train, &val}) {
      f << "<polyline fill='none' stroke-width='2' stroke='" << colors[k] << "' points='";
      for (size_t i = 0; i < series->size(); ++i)
        if ((*series)[i] > 0) f << x(i) << "," << y((*series)[i]) << " ";
      f << "'/>\n<text x='" << w - m - 90 << "' y='" << m + 15 * k << "' fill='" << colors[k]
        << "'>" << names[k] << "</text>\n";
      ++k;
    }
    f << "</svg>\n";
    if (!f) sr::fail(path, ": write failed");
  }
  file.commit();
}

struct ValResult {
  double loss = 0, snr = 0, spline_snr = 0, lsd = 0, spline_lsd = 0;
};

// A seed per (run seed, epoch, batch, patch) for --degrade: new degradations every epoch, the same
// ones again when a run is resumed.
uint64_t patch_seed(uint64_t seed, int64_t epoch, int64_t batch, int64_t p) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ull ^ static_cast<uint64_t>(epoch) * 0xBF58476D1CE4E5B9ull ^
               static_cast<uint64_t>(batch) * 0x94D049BB133111EBull ^ static_cast<uint64_t>(p);
  z = (z ^ (z >> 31)) * 0xD6E8FEB86659FD93ull;
  return z ^ (z >> 32);
}

// With --degrade the input is made here from the high-rate `label` (data is ignored).
struct InputMaker {
  const sr::DegradeOptions* degrade = nullptr;  // null: the file's `data`
  std::vector<float> high;
  // data, label: one patch of the file (label is replaced by the gain-scaled target).
  void make(float* data, float* label, int64_t length, uint64_t seed) {
    if (!degrade) return;
    high.assign(label, label + length);
    const std::vector<float> x = sr::degrade(high, *degrade, seed);
    std::copy(x.begin(), x.end(), data);
    std::copy(high.begin(), high.end(), label);
  }
};

constexpr double kNoBest = 1e300;  // the best validation loss before any epoch

struct ResumeState {
  int epoch = 0, stale = 0;
  double best = kNoBest;
  float lr = 0;
};

// The training state an sr-train checkpoint records in its metadata, range-checked.
ResumeState resume_state(const std::string& path, const std::map<std::string, std::string>& m) {
  auto number = [&](const char* key, double lo, double hi) {
    auto it = m.find(key);
    if (it == m.end()) sr::fail(path, ": not an sr-train checkpoint (no '", key, "')");
    char* end = nullptr;
    const double v = std::strtod(it->second.c_str(), &end);
    if (it->second.empty() || *end != '\0' || !(v >= lo && v <= hi))
      sr::fail(path, ": checkpoint metadata '", key, "' = '", it->second, "' is not a number in [",
               lo, ", ", hi, "]");
    return v;
  };
  ResumeState s;
  s.epoch = static_cast<int>(number("train_epoch", 0, 1000000));
  s.stale = static_cast<int>(number("train_stale_epochs", 0, 1000000));
  s.best = number("train_best_val", 0, kNoBest);
  s.lr = static_cast<float>(number("train_lr", 1e-30, 1e3));
  if (s.epoch != number("train_epoch", 0, 1000000) ||
      s.stale != number("train_stale_epochs", 0, 1e6))
    sr::fail(path, ": checkpoint epoch counts must be whole numbers");
  return s;
}

// --resume continues the network the flags describe: any difference (architecture, widths,
// patch length, rates, input filter) is an error naming the keys, not a silent switch.
void check_same_architecture(const std::string& path, const sr::ModelConfig& checkpoint,
                             const sr::ModelConfig& flags) {
  const auto a = sr::config_to_metadata(checkpoint), b = sr::config_to_metadata(flags);
  std::string diff;
  for (const auto& [key, value] : a) {
    if (key == "generated_gain_db") continue;  // an inference setting, not the network
    auto it = b.find(key);
    const std::string other = it == b.end() ? "(none)" : it->second;
    if (other != value) diff += (diff.empty() ? "" : ", ") + key + " " + value + " vs " + other;
  }
  for (const auto& [key, value] : b)
    if (!a.count(key)) diff += (diff.empty() ? "" : ", ") + key + " (none) vs " + value;
  if (!diff.empty())
    sr::fail(path,
             ": the checkpoint is not the network these flags describe (checkpoint vs flags: ",
             diff, "); pass the first run's flags with --resume");
}

// --init: the tensors of a model file replace the fresh initialisation; the metadata stays the
// flags' (so a decimate-trained model can be fine-tuned on varied degradations).
void copy_weights_from(const std::string& path, sr::WeightFile& fresh) {
  sr::WeightFile source = sr::load_weights(path);
  std::map<std::string, std::vector<int64_t>> expected;
  for (const auto& [name, w] : fresh.tensors) expected[name] = w.dims;
  try {
    sr::check_weights_match(source, expected);
  } catch (const sr::Error& e) {
    sr::fail(path, ": --init model is not the network these flags describe: ", e.what());
  }
  for (auto& [name, w] : fresh.tensors) w.values = std::move(source.tensors.at(name).values);
}

ValResult validate(sr::Trainer& trainer, const sr::PatchFile& val, int64_t patch, int batch,
                   int64_t max_patches, InputMaker& maker) {
  const int64_t count = max_patches > 0 ? std::min(max_patches, val.count()) : val.count();
  const int64_t file_length = val.length();
  std::vector<float> data(batch * file_length), label(batch * file_length);
  std::vector<float> x(batch * patch), t(batch * patch), y(batch * patch);
  std::vector<float> all_ref, all_model, all_spline;
  ValResult r;
  double weight = 0;
  for (int64_t first = 0; first < count; first += batch) {
    const int64_t n = std::min<int64_t>(batch, count - first);
    val.read(first, n, maker.degrade ? nullptr : data.data(), label.data());
    for (int64_t p = 0; p < n; ++p)  // the same degradation of each patch every epoch
      maker.make(&data[p * file_length], &label[p * file_length], file_length,
                 patch_seed(0x5EED, -1, first + p, 0));
    for (int64_t p = 0; p < n; ++p) {  // the central crop when patches are longer than the model's
      const int64_t off = (file_length - patch) / 2;
      std::copy_n(&data[p * file_length + off], patch, &x[p * patch]);
      std::copy_n(&label[p * file_length + off], patch, &t[p * patch]);
    }
    trainer.predict(x.data(), n, patch, y.data());
    r.loss +=
        sr::loss_and_grad(trainer.options().loss, y.data(), t.data(), x.data(), n, patch, nullptr) *
        n;
    weight += n;
    all_ref.insert(all_ref.end(), t.begin(), t.begin() + n * patch);
    all_model.insert(all_model.end(), y.begin(), y.begin() + n * patch);
    all_spline.insert(all_spline.end(), x.begin(), x.begin() + n * patch);
  }
  r.loss /= weight;
  r.snr = sr::snr_db(all_ref, all_model);
  r.spline_snr = sr::snr_db(all_ref, all_spline);
  r.lsd = sr::lsd_k21(all_ref.data(), all_model.data(), all_ref.size());
  r.spline_lsd = sr::lsd_k21(all_ref.data(), all_spline.data(), all_ref.size());
  return r;
}

int run(int argc, char** argv) {
  Options o;
  sr::cli::ArgParser p(
      "sr-train", "sr-train --train T.h5 --val V.h5 --model tfilm --r R --out DIR [options]",
      "Trains a network from scratch on HDF5 patches made by sr-prep (or the originals'\n"
      "prep_vctk.py `data`/`label`, or the PyTorch port's `X`/`Y`). Each epoch validates (the\n"
      "training loss, SNR, LSD next to the spline baseline), writes DIR/checkpoint.safetensors\n"
      "(resumable) and, when validation improves, DIR/model.safetensors (what sr-infer loads),\n"
      "appends to DIR/log.csv and redraws DIR/loss.svg. Files are replaced atomically: killing\n"
      "the run loses at most the current epoch. With --degrade only `label` is read: each epoch\n"
      "makes new low-rate inputs from it (anti-alias IIR filters of five families, scipy's\n"
      "decimate, libsoxr, plain subsampling, G.711, random gain; seeded by epoch and position);\n"
      "validation patches get one fixed degradation each. Pass the same flags with --resume.");
  p.option("train", 0, "FILE", "training patches (.h5)", &o.train);
  p.option("val", 0, "FILE", "validation patches (.h5)", &o.val);
  p.option("out", 'o', "DIR", "output directory", &o.out);
  o.model.add_to(p, "model", 'm');
  p.option("r", 'r', "R", "upscaling ratio the data was made for (recorded in the model)", &o.r, 0,
           64);
  p.option("epochs", 'e', "N", "epochs", &o.epochs, 1, 1000000);
  p.option("batch-size", 'b', "N", "patches per step", &o.batch, 1, 4096);
  p.option("lr", 0, "LR", "Adam learning rate", &o.lr);
  p.option("loss", 0, "SPEC",
           "mse (PyTorch port), rmse (TF original), mae, mrstft, pcm, tpcm (= 0.6*mae+0.4*pcm), or "
           "a sum like mae+0.5*mrstft",
           &o.loss);
  p.option("loss-high-band", 0, "W", "mrstft: weight of the bins above 1/r of the Nyquist",
           &o.high_band);
  p.flag("degrade", 0,
         "random degradations of 'label' as the input, new each epoch (input_filter=varied)",
         &o.degrade);
  p.option("degrade-cutoff", 0, "F", "--degrade: lowest filter cutoff, of the low-rate Nyquist",
           &o.degrade_cutoff);
  p.option("weight-decay", 0, "W", "AdamW decoupled weight decay", &o.weight_decay);
  p.option("clip-norm", 0, "N", "global gradient-norm clipping, 0 = off", &o.clip_norm);
  p.option("crop", 0, "N",
           "random N-sample crops of each patch (the model's patch length); 0 = whole patches",
           &o.crop, 0, 1 << 24);
  p.option("sample-rate", 0, "HZ", "high rate of the data (recorded in the model)", &o.sample_rate,
           1, 768000);
  p.option("patience", 0, "N", "stop after N epochs without validation improvement", &o.patience, 1,
           1000000);
  p.option("halve-after", 0, "N", "halve the learning rate after N epochs without improvement",
           &o.halve_after, 1, 1000000);
  p.option("max-batches", 0, "N", "batches per epoch, 0 = all", &o.max_batches, 0, 1 << 30);
  p.option("val-patches", 0, "N", "validation patches used, 0 = all", &o.val_max, 0, 1 << 30);
  p.option("resume", 0, "FILE", "continue from a checkpoint.safetensors", &o.resume);
  p.option("init", 0, "FILE",
           "start from this model's weights (fine-tuning: same network, new optimiser)", &o.init);
  p.option("seed", 's', "N", "seed for initialisation, shuffling, crops and dropout", &o.seed);
  p.option("threads", 0, "N", "CPU threads; 0 = the cores not busy with other work", &o.threads);
  p.flag("quiet", 'q', "no progress bar", &o.quiet);
  if (!p.parse(argc, argv)) return 0;
  sr::cli::apply_threads_flag(o.threads);
  if (o.train.empty() || o.val.empty()) throw UsageError("--train and --val are required");
  sr::LossSpec loss;
  try {
    loss = sr::parse_loss(o.loss);
  } catch (const sr::Error& e) {
    throw UsageError(std::string("--loss: ") + e.what());
  }
  loss.high_band_weight = parse_float("--loss-high-band", o.high_band);

  sr::PatchFile train(o.train), val(o.val);
  if (train.length() != val.length())
    sr::fail("training patches are ", train.length(), " samples, validation ", val.length());
  sr::check_memory_budget(sr::product_bytes(static_cast<uint64_t>(o.batch), train.length(), 16),
                          "--batch-size x the patch length of " + o.train);
  if (train.count() < o.batch)
    sr::fail(o.train, ": ", train.count(), " patches, fewer than one batch of ", o.batch);
  const int64_t patch = o.crop > 0 ? o.crop : train.length();
  if (patch > train.length()) throw UsageError("--crop is longer than the patches");
  sr::DegradeOptions degrade;
  InputMaker maker;
  if (o.degrade) {
    if (o.r < 2) throw UsageError("--degrade needs --r (2 or more)");
    degrade.r = o.r;
    degrade.cutoff_min = parse_float("--degrade-cutoff", o.degrade_cutoff);
    if (!(degrade.cutoff_min >= 0.1 && degrade.cutoff_min <= 1.0))
      throw UsageError("--degrade-cutoff must be in [0.1, 1]");
    if (train.length() % o.r != 0)
      sr::fail("patches of ", train.length(), " samples are not a multiple of r = ", o.r);
    maker.degrade = &degrade;
  }

  sr::TrainOptions to;
  to.lr = parse_float("--lr", o.lr);
  to.weight_decay = parse_float("--weight-decay", o.weight_decay);
  to.clip_norm = parse_float("--clip-norm", o.clip_norm);
  to.loss = loss;
  to.seed = static_cast<uint64_t>(o.seed);

  sr::ModelConfig wanted = o.model.config(static_cast<int>(patch), o.sample_rate, o.r);
  if (o.degrade) {
    wanted.input_filter.family = sr::InputFilter::Family::varied;
    wanted.input_filter.cutoff = static_cast<float>(degrade.cutoff_min);
  }
  if (val.count() == 0) sr::fail(o.val, ": no validation patches");
  if (!o.init.empty() && !o.resume.empty())
    throw UsageError("--init and --resume exclude each other (a checkpoint has its own weights)");

  sr::cli::CreatedRunFolder folder(o.out);
  const sr::cli::RunFolderLock lock(o.out);
  const std::string checkpoint_path = o.out + "/checkpoint.safetensors";
  const std::string model_path = o.out + "/model.safetensors";
  sr::cli::TrainingLog log(o.out + "/log.csv");

  sr::WeightFile initial;
  int start_epoch = 0, stale = 0;
  double best = kNoBest;
  if (!o.resume.empty()) {
    initial = sr::load_weights(o.resume);
    const ResumeState state = resume_state(o.resume, initial.metadata);
    start_epoch = state.epoch;
    stale = state.stale;
    best = state.best;
    to.lr = state.lr;
    check_same_architecture(o.resume, sr::config_from_metadata(initial.metadata), wanted);
    log.resume(start_epoch);
  } else {
    initial = sr::init_weights(wanted, static_cast<uint64_t>(o.seed));
    if (!o.init.empty()) copy_weights_from(o.init, initial);
    log.start();
  }
  auto backend = sr::make_cpu_backend();
  sr::Trainer trainer(initial, *backend, to);
  initial = {};
  trainer.options().loss.ratio = trainer.config().ratio;  // --loss-high-band's cutoff
  std::fprintf(stderr,
               "sr-train: %s, %.2fM parameters, patch %lld, %lld train / %lld val patches%s\n",
               sr::arch_name(trainer.config().arch), trainer.parameter_count() / 1e6,
               static_cast<long long>(patch), static_cast<long long>(train.count()),
               static_cast<long long>(val.count()), o.resume.empty() ? "" : " (resumed)");

  std::mt19937_64 rng(static_cast<uint64_t>(o.seed) * 7919 + start_epoch);
  const int64_t file_length = train.length();
  std::vector<float> data(o.batch * file_length), label(o.batch * file_length);
  std::vector<float> x(o.batch * patch), t(o.batch * patch), one_d(file_length), one_l(file_length);
  for (int epoch = start_epoch; epoch < o.epochs; ++epoch) {
    std::vector<int64_t> order(train.count());
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    int64_t batches = train.count() / o.batch;  // the last partial batch is dropped
    if (o.max_batches > 0) batches = std::min<int64_t>(batches, o.max_batches);
    const auto start = Clock::now();
    double loss_sum = 0;
    auto last_report = start;
    for (int64_t bi = 0; bi < batches; ++bi) {
      for (int p = 0; p < o.batch; ++p) {
        train.read(order[bi * o.batch + p], 1, o.degrade ? nullptr : one_d.data(), one_l.data());
        maker.make(one_d.data(), one_l.data(), file_length,
                   patch_seed(static_cast<uint64_t>(o.seed), epoch, bi, p));
        // Degraded patches keep clear of their edges (filter and resampler transients).
        const int64_t margin = o.degrade ? std::min<int64_t>(256, (file_length - patch) / 2) : 0;
        std::uniform_int_distribution<int64_t> pick(margin, file_length - patch - margin);
        const int64_t off = pick(rng);
        std::copy_n(&one_d[off], patch, &x[p * patch]);
        std::copy_n(&one_l[off], patch, &t[p * patch]);
      }
      loss_sum += trainer.train_step(x.data(), t.data(), o.batch, patch);
      if (!o.quiet && (seconds_since(last_report) > 0.5 || bi + 1 == batches)) {
        last_report = Clock::now();
        const int width = 30, filled = static_cast<int>(width * (bi + 1) / batches);
        std::fprintf(stderr, "\repoch %d/%d [%s%s] %lld/%lld loss %.3e  %.1f patches/s ", epoch + 1,
                     o.epochs, std::string(filled, '#').c_str(),
                     std::string(width - filled, '.').c_str(), static_cast<long long>(bi + 1),
                     static_cast<long long>(batches), loss_sum / (bi + 1),
                     (bi + 1) * o.batch / seconds_since(start));
      }
    }
    const double train_seconds = seconds_since(start);
    if (!o.quiet) std::fprintf(stderr, "\n");
    const ValResult v = validate(trainer, val, patch, o.batch, o.val_max, maker);
    const double train_loss = loss_sum / batches;
    if (!std::isfinite(train_loss) || !std::isfinite(v.loss))
      sr::fail("epoch ", epoch + 1, ": training diverged (training loss ", train_loss,
               ", validation loss ", v.loss, "); nothing of this epoch was saved",
               std::filesystem::exists(model_path) ? "; the best model so far is " + model_path
                                                   : std::string(),
               ". Try a lower --lr or --clip-norm 1");
    const bool improved = v.loss < best;
    if (improved) {
      best = v.loss;
      stale = 0;
      sr::WeightFile model = trainer.weights();
      model.metadata["train_epoch"] = std::to_string(epoch + 1);
      if (o.degrade) model.metadata["training_degradations"] = sr::degrade_description(degrade);
      model.metadata["training_loss"] = o.loss;
      sr::save_weights(model_path, model);
    } else if (++stale % std::max(1, o.halve_after) == 0) {
      trainer.options().lr *= 0.5f;
    }
    log.add(sr::format(epoch + 1, ",", trainer.step(), ",", train_loss, ",", v.loss, ",", v.snr,
                       ",", v.spline_snr, ",", v.lsd, ",", v.spline_lsd, ",", trainer.options().lr,
                       ",", train_seconds, ",", batches * o.batch / train_seconds));
    sr::WeightFile ckpt = trainer.checkpoint();
    ckpt.metadata["train_epoch"] = std::to_string(epoch + 1);
    if (o.degrade) ckpt.metadata["training_degradations"] = sr::degrade_description(degrade);
    ckpt.metadata["train_stale_epochs"] = std::to_string(stale);
    char best_text[32];
    std::snprintf(best_text, sizeof best_text, "%.17g", best);
    ckpt.metadata["train_best_val"] = best_text;
    ckpt.metadata["train_lr"] = sr::format(trainer.options().lr);
    sr::save_weights(checkpoint_path, ckpt);
    write_svg(o.out + "/loss.svg", log.train_curve(), log.val_curve());
    std::fprintf(stderr,
                 "epoch %d: train %.3e  val %.3e  SNR %.2f dB (spline %.2f)  LSD %.3f (spline "
                 "%.3f)  lr %.1e%s\n",
                 epoch + 1, train_loss, v.loss, v.snr, v.spline_snr, v.lsd, v.spline_lsd,
                 trainer.options().lr, improved ? "  [saved]" : "");
    if (stale >= o.patience) {
      std::fprintf(stderr, "no improvement for %d epochs: stopping early\n", stale);
      break;
    }
  }
  folder.keep();
  if (best == kNoBest) sr::fail("no epoch improved on the checkpoint: no model written");
  std::fprintf(stderr, "best validation loss %.4e; model: %s\n", best, model_path.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return sr::cli::run_main("sr-train", argv, [&] { return run(argc, argv); });
}
