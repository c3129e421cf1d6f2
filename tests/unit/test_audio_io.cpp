// Audio files: WAV/FLAC round trips within 16-bit quantisation, channels kept, atomic writes, and
// refusal of empty, garbage, truncated and non-finite inputs.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "sr/error.h"
#include "sr/io/audio.h"
#include "temp_dir.h"
#include "test_util.h"

using Catch::Contains;

namespace {

sr::Audio make_audio(int rate, int channels, size_t frames, uint32_t seed) {
  sr::Audio a;
  a.sample_rate = rate;
  a.channels = channels;
  a.samples = sr::test::random_vector(frames * channels, seed, 0.9f);
  return a;
}

// Largest |a - b| over interleaved samples.
float max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

// libsndfile writes round(x * 32767) and reads back n / 32768, so a sample moves by at most
// (0.5 + |x|) / 32768 <= 1.5 / 32768 for |x| <= 1.
constexpr float kPcm16Tolerance = 1.5f / 32768.0f;

}  // namespace

TEST_CASE("WAV and FLAC round trip within 16-bit quantisation", "[io][audio]") {
  sr::test::TempDir tmp;
  for (const char* name : {"mono.wav", "stereo.wav", "three.wav", "mono.flac", "stereo.flac"}) {
    INFO(name);
    const int channels = std::strstr(name, "mono") ? 1 : std::strstr(name, "stereo") ? 2 : 3;
    const sr::Audio a = make_audio(16000, channels, 3001, 7 + channels);
    sr::write_audio(tmp.path(name), a);
    const sr::Audio b = sr::read_audio(tmp.path(name));
    REQUIRE(b.sample_rate == 16000);
    REQUIRE(b.channels == channels);
    REQUIRE(b.frames() == 3001);
    REQUIRE(max_diff(a.samples, b.samples) <= kPcm16Tolerance);
  }
  REQUIRE(tmp.count() == 5);  // no temporary files left behind
}

TEST_CASE("float WAV is exact and out-of-range 16-bit samples clip", "[io][audio]") {
  sr::test::TempDir tmp;
  sr::Audio a = make_audio(8000, 2, 500, 3);
  a.samples[0] = 1.7f;  // float keeps it; 16-bit saturates instead of wrapping round
  a.samples[1] = -2.0f;
  {
    sr::AudioWriter w(tmp.path("f.wav"), 8000, 2, /*float_samples=*/true);
    w.write(a.samples.data(), 200);
    w.write(a.samples.data() + 400, 300);  // streaming: several writes append
    w.finish();
  }
  const sr::Audio b = sr::read_audio(tmp.path("f.wav"));
  REQUIRE(b.frames() == 500);
  REQUIRE(b.samples == a.samples);

  sr::write_audio(tmp.path("i.wav"), a);
  const sr::Audio c = sr::read_audio(tmp.path("i.wav"));
  REQUIRE(c.samples[0] == Approx(32767.0f / 32768.0f));
  REQUIRE(c.samples[1] == -1.0f);
}

TEST_CASE("Ogg Vorbis writes and reads back", "[io][audio]") {
  sr::test::TempDir tmp;
  sr::Audio a;
  a.sample_rate = 16000;
  a.channels = 1;
  for (int i = 0; i < 16000; ++i) a.samples.push_back(0.5f * std::sin(0.2f * i));
  sr::write_audio(tmp.path("t.ogg"), a);
  const sr::Audio b = sr::read_audio(tmp.path("t.ogg"));
  REQUIRE(b.sample_rate == 16000);
  REQUIRE(b.channels == 1);
  REQUIRE(b.frames() == a.frames());
}

TEST_CASE("an unfinished writer leaves no file", "[io][audio]") {
  sr::test::TempDir tmp;
  const sr::Audio a = make_audio(16000, 1, 100, 4);
  {
    sr::AudioWriter w(tmp.path("out.wav"), 16000, 1);
    w.write(a.samples.data(), a.frames());
    REQUIRE(tmp.count() == 1);  // the temporary file, not out.wav
  }
  REQUIRE(tmp.count() == 0);

  {  // an error mid-stream (a NaN sample) also leaves nothing behind
    sr::AudioWriter w(tmp.path("out.flac"), 16000, 1);
    std::vector<float> bad(10, 0.1f);
    bad[3] = std::numeric_limits<float>::quiet_NaN();
    REQUIRE_THROWS_WITH(w.write(bad.data(), bad.size()), Contains("NaN"));
  }
  REQUIRE(tmp.count() == 0);

  REQUIRE_THROWS_WITH(sr::write_audio(tmp.path("out.mp4"), a), Contains("unknown output format"));
  REQUIRE_THROWS_WITH(sr::AudioWriter(tmp.path("out.wav"), 0, 1), Contains("sample rate"));
  REQUIRE(tmp.count() == 0);
}

TEST_CASE("read_audio refuses empty, garbage, truncated and non-finite files", "[io][audio]") {
  sr::test::TempDir tmp;
  const std::string p = tmp.path("in.wav");

  REQUIRE_THROWS_WITH(sr::read_audio(tmp.path("missing.wav")),
                      Contains("not a readable audio file"));

  sr::test::write_bytes(p, "");
  REQUIRE_THROWS_WITH(sr::read_audio(p), Contains("not a readable audio file"));

  sr::test::write_bytes(p, "this is a text file that happens to end in .wav\n");
  REQUIRE_THROWS_WITH(sr::read_audio(p), Contains("not a readable audio file"));

  {  // a valid header with no frames
    sr::AudioWriter w(p, 16000, 1);
    w.finish();
  }
  REQUIRE_THROWS_WITH(sr::read_audio(p), Contains("contains no audio"));

  sr::write_audio(p, make_audio(16000, 2, 4000, 5));
  std::string bytes = sr::test::read_bytes(p);
  sr::test::write_bytes(p, bytes.substr(0, bytes.size() / 2));
  REQUIRE_THROWS_WITH(sr::read_audio(p), Contains("truncated"));

  const std::string flac = tmp.path("in.flac");
  sr::write_audio(flac, make_audio(16000, 1, 40000, 6));
  bytes = sr::test::read_bytes(flac);
  sr::test::write_bytes(flac, bytes.substr(0, bytes.size() / 2));
  REQUIRE_THROWS_WITH(sr::read_audio(flac), Contains("truncated"));

  // A float WAV with one NaN sample patched into its data chunk.
  sr::Audio a = make_audio(16000, 1, 100, 8);
  {
    sr::AudioWriter w(p, 16000, 1, /*float_samples=*/true);
    w.write(a.samples.data(), a.frames());
    w.finish();
  }
  bytes = sr::test::read_bytes(p);
  const size_t data = bytes.find("data");
  REQUIRE(data != std::string::npos);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(&bytes[data + 8 + 4 * 10], &nan, 4);
  sr::test::write_bytes(p, bytes);
  REQUIRE_THROWS_WITH(sr::read_audio(p), Contains("contains NaN or infinite samples"));
}
