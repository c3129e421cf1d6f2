// Training-input degradations: one seeded draw per patch (see sr/io/degrade.h).
#include "sr/io/degrade.h"

#include <soxr.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "sr/error.h"
#include "sr/io/decimate.h"
#include "sr/io/iir_design.h"
#include "sr/io/spline.h"

namespace sr {
namespace {

// Uniform in [0, 1) from the top 53 bits (the same on every standard library).
double uniform(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}
double uniform(std::mt19937_64& rng, double lo, double hi) {
  return lo + (hi - lo) * uniform(rng);
}

// x: (n,) at the high rate -> (n / r,) by libsoxr at `quality` (SOXR_LQ .. SOXR_VHQ).
std::vector<float> soxr_down(const std::vector<float>& x, int r, unsigned long quality) {
  std::vector<float> y(x.size() / r, 0.0f);
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t q = soxr_quality_spec(quality, 0);
  size_t done = 0;
  soxr_error_t err = soxr_oneshot(static_cast<double>(r), 1.0, 1, x.data(), x.size(), nullptr,
                                  y.data(), y.size(), &done, &io, &q, nullptr);
  if (err) fail("degrade: soxr failed: ", err);
  return y;
}

std::vector<float> subsample(const std::vector<double>& x, int r) {
  std::vector<float> y(x.size() / r);
  for (size_t i = 0; i < y.size(); ++i) y[i] = static_cast<float>(x[i * r]);
  return y;
}

int16_t to_pcm16(float x) {
  return static_cast<int16_t>(std::lround(std::clamp(x, -1.0f, 1.0f) * 32767.0f));
}

// g711.c's segment search: the first i with value <= table[i], else 8.
int segment(int value, const int* table) {
  for (int i = 0; i < 8; ++i)
    if (value <= table[i]) return i;
  return 8;
}

}  // namespace

float mulaw_roundtrip(float x) {
  static const int seg_end[8] = {0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF};
  int pcm = to_pcm16(x) >> 2, mask = 0xFF;
  if (pcm < 0) pcm = -pcm, mask = 0x7F;
  pcm = std::min(pcm, 8159) + (0x84 >> 2);
  const int seg = segment(pcm, seg_end);
  int code = seg >= 8 ? (0x7F ^ mask) : (((seg << 4) | ((pcm >> (seg + 1)) & 0xF)) ^ mask);
  // decode
  code = ~code & 0xFF;
  int t = ((code & 0x0F) << 3) + 0x84;
  t <<= (code & 0x70) >> 4;
  const int linear = (code & 0x80) ? (0x84 - t) : (t - 0x84);
  return static_cast<float>(linear) / 32768.0f;
}

float alaw_roundtrip(float x) {
  static const int seg_end[8] = {0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF};
  int pcm = to_pcm16(x) >> 3, mask = 0xD5;
  if (pcm < 0) mask = 0x55, pcm = -pcm - 1;
  const int seg = segment(pcm, seg_end);
  int code;
  if (seg >= 8) {
    code = 0x7F ^ mask;
  } else {
    code = seg << 4;
    code |= seg < 2 ? (pcm >> 1) & 0xF : (pcm >> seg) & 0xF;
    code ^= mask;
  }
  // decode
  code ^= 0x55;
  int t = (code & 0x0F) << 4;
  const int s = (code & 0x70) >> 4;
  if (s == 0)
    t += 8;
  else
    t = (t + 0x108) << (s - 1);
  const int linear = (code & 0x80) ? t : -t;
  return static_cast<float>(linear) / 32768.0f;
}

std::vector<float> degrade(std::vector<float>& high, const DegradeOptions& o, uint64_t seed,
                           Degradation* what) {
  const int r = o.r;
  if (r < 2) fail("degrade: the ratio must be at least 2, got ", r);
  if (high.size() % r != 0 || high.size() < static_cast<size_t>(64 * r))
    fail("degrade: ", high.size(), " samples is not a multiple of ", r, " of at least ", 64 * r);
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull);
  Degradation d;
  d.gain_db = uniform(rng, o.gain_min_db, o.gain_max_db);
  const float gain = static_cast<float>(std::pow(10.0, d.gain_db / 20.0));
  for (float& v : high) v *= gain;

  const double shares[5] = {o.share_iir, o.share_decimate, o.share_soxr, o.share_subsample,
                            o.share_g711};
  double total = 0;
  for (double s : shares) total += std::max(0.0, s);
  SR_CHECK(total > 0, "degrade: every share is zero");
  double pick = uniform(rng) * total;
  int way = 0;
  while (way < 4 && pick >= std::max(0.0, shares[way])) pick -= std::max(0.0, shares[way]), ++way;

  std::vector<float> low;
  if (way == 0) {
    static const IirFamily families[5] = {IirFamily::butter, IirFamily::cheby1, IirFamily::cheby2,
                                          IirFamily::ellip, IirFamily::bessel};
    IirSpec spec;
    spec.family = families[rng() % 5];
    spec.order = o.order_min + static_cast<int>(rng() % (o.order_max - o.order_min + 1));
    d.cutoff = uniform(rng, o.cutoff_min, o.cutoff_max);
    spec.cutoff = std::min(0.999, d.cutoff / r);
    spec.ripple_db = uniform(rng, 0.05, 1.0);
    spec.stop_db = uniform(rng, 30.0, 80.0);
    d.kind = iir_family_name(spec.family);
    d.order = spec.order;
    d.causal = uniform(rng) < o.causal;
    const std::vector<Biquad> sos = iir_lowpass_sos(spec);
    std::vector<double> y;
    if (d.causal) {
      y.assign(high.begin(), high.end());
      sosfilt(sos, y);
    } else {
      y = sosfiltfilt(sos, high);
    }
    low = subsample(y, r);
  } else if (way == 1) {
    d.kind = "decimate";
    d.order = 8;
    d.cutoff = 0.8;
    low = decimate(high, r);
  } else if (way == 2) {
    static const unsigned long qualities[4] = {SOXR_LQ, SOXR_MQ, SOXR_HQ, SOXR_VHQ};
    d.kind = "soxr";
    low = soxr_down(high, r, qualities[rng() % 4]);
  } else if (way == 3) {
    d.kind = "subsample";
    low.resize(high.size() / r);
    for (size_t i = 0; i < low.size(); ++i) low[i] = high[i * r];
  } else {
    const bool mu = rng() % 2 == 0;
    d.kind = mu ? "mulaw" : "alaw";
    low = soxr_down(high, r, SOXR_HQ);
    for (float& v : low) v = mu ? mulaw_roundtrip(v) : alaw_roundtrip(v);
  }
  if (what) *what = d;
  return spline_upsample(low, r);
}

std::string degrade_description(const DegradeOptions& o) {
  char text[512];
  std::snprintf(text, sizeof text,
                "{\"iir\": %.3g, \"decimate\": %.3g, \"soxr\": %.3g, \"subsample\": %.3g, "
                "\"g711\": %.3g, \"iir_families\": \"butter,cheby1,cheby2,ellip,bessel\", "
                "\"iir_orders\": [%d, %d], \"iir_cutoff\": [%.3g, %.3g], \"iir_causal\": %.3g, "
                "\"soxr_qualities\": \"LQ,MQ,HQ,VHQ\", \"gain_db\": [%.3g, %.3g]}",
                o.share_iir, o.share_decimate, o.share_soxr, o.share_subsample, o.share_g711,
                o.order_min, o.order_max, o.cutoff_min, o.cutoff_max, o.causal, o.gain_min_db,
                o.gain_max_db);
  return text;
}

}  // namespace sr
