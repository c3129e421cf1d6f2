// From a recording to a wider-band recording (docs/ARCHITECTURE.md, "From a recording to the
// network"). The user's band is kept exactly; the network only adds what lies above it:
//
//   input (in_rate) ──resample──────────────────────────────────────────┐ kept (out_rate)
//        └─resample to the model rate─condition as in training─subsample ┘
//             ─spline x r + network (Upsampler)─resample to out_rate──────┐ net (out_rate)
//   out = LP_cross(kept) + (LP_top - LP_cross)(net), the added part limited to full scale
//
// LP_cross is a linear-phase low-pass whose transition starts at the input's edge; LP_top ends the
// network's contribution just below the model's Nyquist; the network's part is scaled by
// generated_gain. Input whose band already reaches the
// model's output band passes through untouched; `raw` is the originals' network-only output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sr/model.h"
#include "sr/upsampler.h"

namespace sr {

class Network;

struct ExtensionPlan {
  enum class Mode { extend, pass_through, raw };
  Mode mode = Mode::extend;
  int in_rate = 0, out_rate = 0;
  int model_rate = 0, ratio = 0;  // the model's high rate and r; low rate = model_rate / ratio
  double band_hz = 0;             // where the input's content ends (its edge; detected or given)
  double crossover_hz = 0;        // LP_cross: -6 dB point
  double crossover_width_hz = 0;  // LP_cross: transition width (starts at band_hz)
  double top_hz = 0;              // LP_top: -6 dB point
  double top_width_hz = 0;
  // The network's contribution above the input's edge is scaled by this gain (the model's
  // generated_gain_db): today's models guess that band too loud on unseen voices.
  double generated_gain = 1.0;
  InputFilter filter;  // how the network's input is conditioned
  // A comb notch on the network's output removes the U-Net's steady lines at the multiples of
  // model rate / period (periodic_notch_taps over 2 span + 1 periods): rate / 4 for r > 2, rate /
  // 32 for r = 2 models trained on varied degradations; period 0: none.
  int notch_period = 0, notch_span = 0;
  // Then steady lines standing more than this many dB above the generated band's local floor are
  // lowered to it (SteadyLineSuppressor, dsp/line_suppressor.h); negative: left alone.
  double line_threshold_db = -1;
  int low_rate() const { return model_rate / ratio; }
};

// Decides what happens to an input at `in_rate` whose band is `band_hz`, given a model serving
// `config` at ratio r; `edge_hz` (>= band_hz) is where the input's content ends entirely, and
// decides whether the model has anything to add. out_rate 0 = max(in_rate, model rate); raw = the
// network-only output at the model rate (out_rate must be 0 or the model rate).
ExtensionPlan plan_extension(int in_rate, double band_hz, double edge_hz, const ModelConfig& config,
                             int ratio, int out_rate, bool raw, double generated_gain_db = 0.0);

// One line for the user: what is kept, what the network adds, at which rates.
std::string describe(const ExtensionPlan& plan);

// Streams interleaved frames at plan.in_rate through the plan; the sink receives interleaved
// frames at plan.out_rate. Memory does not grow with the signal's length.
class BandExtender {
 public:
  using Sink = std::function<void(const float* frames, size_t count)>;
  BandExtender(Network& network, const ExtensionPlan& plan, int channels,
               const UpsampleOptions& upsample);
  ~BandExtender();
  BandExtender(const BandExtender&) = delete;
  BandExtender& operator=(const BandExtender&) = delete;

  void push(const float* frames, size_t count, const Sink& sink);
  void finish(const Sink& sink);

  int64_t patches_done() const;
  int overlap() const;
  int64_t limited_frames() const;   // frames where the added band was turned down
  double min_gain() const;          // the deepest turn-down (1 = none)
  int64_t clamped_samples() const;  // samples of the kept band alone over full scale
  int64_t line_cut_frames() const;  // the line suppressor's analysis frames with a cut
  double deepest_line_cut_db() const;

 private:
  struct Stages;
  void drain(const Sink& sink, bool ending);
  std::unique_ptr<Stages> s_;
};

}  // namespace sr
