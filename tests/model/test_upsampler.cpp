// The streaming upsampler: windowed spline, patch tiling, crossfade and zero padding, against
// whole-signal computations.
#include "sr/backend.h"
#include "sr/error.h"
#include "sr/io/spline.h"
#include "sr/model.h"
#include "sr/upsampler.h"
#include "sr/weights.h"
#include "test_util.h"

using namespace sr;

namespace {

ModelConfig tiny_config(Arch arch) {
  ModelConfig c = default_config(arch);
  c.layers = 2;
  c.filters = {8, 8};
  c.kernels = {9, 5};
  c.bottleneck_filters = 8;
  c.bottleneck_kernel = 5;
  c.base_block = 16;
  c.patch_length = 256;
  return c;
}

// Runs the upsampler over `low` (frames x channels), pushing `chunk` frames at a time.
std::vector<float> upsample(Network& net, const std::vector<float>& low, int channels,
                            UpsampleOptions o, size_t chunk) {
  Upsampler up(net, channels, o);
  std::vector<float> out;
  auto sink = [&](const float* f, size_t n) { out.insert(out.end(), f, f + n * channels); };
  const size_t frames = low.size() / channels;
  for (size_t i = 0; i < frames; i += chunk)
    up.push(low.data() + i * channels, std::min(chunk, frames - i), sink);
  up.finish(sink);
  return out;
}

}  // namespace

TEST_CASE("a network that adds nothing gives exactly the whole-signal spline", "[upsampler]") {
  // All-zero weights make net(x) = 0, so the output must be the spline of the whole signal:
  // this checks windowed splines, crossfade normalisation, tiling and the ends.
  WeightFile w = init_weights(tiny_config(Arch::audiounet), 1);
  for (auto& [name, t] : w.tensors) std::fill(t.values.begin(), t.values.end(), 0.0f);
  auto backend = make_cpu_backend();
  Network net(w, *backend);
  const int channels = 2, r = 4;
  for (size_t frames : {size_t{1}, size_t{5}, size_t{63}, size_t{64}, size_t{1000}, size_t{3001}}) {
    std::vector<float> low = test::random_vector(frames * channels, 7 + frames);
    for (int overlap : {-1, 0, 100}) {
      UpsampleOptions o;
      o.ratio = r;
      o.overlap = overlap;
      o.batch = 3;
      std::vector<float> got = upsample(net, low, channels, o, 97);
      REQUIRE(got.size() == frames * r * channels);
      for (int c = 0; c < channels; ++c) {
        std::vector<float> mono(frames);
        for (size_t i = 0; i < frames; ++i) mono[i] = low[i * channels + c];
        if (overlap == 0) {  // the originals spline over zero padding to a whole patch + 1
          size_t padded = ((frames * r) / 256 + 1) * 256 / r;
          mono.resize(padded, 0.0f);
        }
        std::vector<float> ref = spline_upsample(mono, r);
        ref.resize(frames * r);
        std::vector<float> channel(frames * r);
        for (size_t i = 0; i < frames * r; ++i) channel[i] = got[i * channels + c];
        INFO("frames " << frames << " overlap " << overlap << " channel " << c);
        // Windowed and whole splines differ by ~0.27^48 of the signal: float rounding only.
        SR_REQUIRE_CLOSE(channel, ref, 1e-5, 1e-5);
      }
    }
  }
}

TEST_CASE("overlap 0 reproduces the originals' padded tiling exactly", "[upsampler]") {
  WeightFile w = init_weights(tiny_config(Arch::tfilm), 3);
  auto backend = make_cpu_backend();
  Network net(w, *backend);
  const int r = 2, P = 256;
  const size_t frames = 700;  // 1400 high-rate samples -> padded to 1536 = 6 patches
  std::vector<float> low = test::random_vector(frames, 11, 0.5f);
  UpsampleOptions o;
  o.ratio = r;
  o.overlap = 0;
  o.batch = 4;
  std::vector<float> got = upsample(net, low, 1, o, 1 << 20);

  std::vector<float> padded = low;
  padded.resize((frames * r / P + 1) * P / r, 0.0f);
  std::vector<float> x = spline_upsample(padded, r);
  const int64_t patches = static_cast<int64_t>(x.size()) / P;
  std::vector<float> y(x.size());
  net.forward(x.data(), patches, P, y.data());
  y.resize(frames * r);
  // Same network, same inputs, different batch grouping: float rounding only.
  SR_REQUIRE_CLOSE(got, y, 1e-5, 1e-5);
}

TEST_CASE("output does not depend on how the input is chunked", "[upsampler]") {
  WeightFile w = init_weights(tiny_config(Arch::afilm), 5);
  auto backend = make_cpu_backend();
  Network net(w, *backend);
  std::vector<float> low = test::random_vector(1234, 13, 0.5f);
  UpsampleOptions o;
  o.ratio = 2;
  std::vector<float> whole = upsample(net, low, 1, o, 1 << 20);
  std::vector<float> trickle = upsample(net, low, 1, o, 7);
  REQUIRE(whole.size() == 2468);
  // Identical patch inputs and batch grouping: the results must be bit-identical.
  REQUIRE(whole == trickle);
}

TEST_CASE("upsampler refuses impossible settings", "[upsampler]") {
  WeightFile w = init_weights(tiny_config(Arch::audiounet), 1);
  auto backend = make_cpu_backend();
  Network net(w, *backend);
  UpsampleOptions o;
  o.overlap = 200;  // more than half the 256-sample patch
  CHECK_THROWS_AS(Upsampler(net, 1, o), Error);
  o.overlap = 0;
  o.ratio = 3;  // 256 is not a multiple of 3: the originals' padding is undefined
  CHECK_THROWS_AS(Upsampler(net, 1, o), Error);
  o = {};
  Upsampler up(net, 1, o);
  CHECK_THROWS_AS(up.finish([](const float*, size_t) {}), Error);
}
