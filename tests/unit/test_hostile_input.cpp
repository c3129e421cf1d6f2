// Hostile input (issue "Hostile input and faults"): each case crashed, hung, reserved gigabytes or
// succeeded wrongly before its fix. Here the library throws one clear sr::Error instead.
#include <sndfile.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "sr/error.h"
#include "sr/io/atomic_file.h"
#include "sr/io/audio.h"
#include "sr/io/json_limits.h"
#include "sr/memory_budget.h"
#include "sr/model.h"
#include "sr/weights.h"
#include "temp_dir.h"
#include "test_util.h"

using Catch::Contains;

namespace {

std::string safetensors(const std::string& header) {
  std::string out;
  for (int i = 0; i < 8; ++i) out += static_cast<char>((uint64_t{header.size()} >> (8 * i)) & 0xFF);
  return out + header;
}

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    setenv(name, value, 1);
  }
  ~ScopedEnv() { had_ ? setenv(name_, old_.c_str(), 1) : unsetenv(name_); }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

}  // namespace

TEST_CASE("A weights header nested 100,000 deep is refused, not a stack overflow", "[hostile]") {
  sr::test::TempDir dir;
  const std::string nested = std::string(100000, '[') + "1" + std::string(100000, ']');
  sr::test::write_bytes(dir.path("deep.safetensors"),
                        safetensors("{\"w\": {\"dtype\": \"F32\", \"shape\": " + nested +
                                    ", \"data_offsets\": [0, 4]}}"));
  REQUIRE_THROWS_WITH(sr::load_weights(dir.path("deep.safetensors")),
                      Contains("deep.safetensors") && Contains("nested deeper than 16"));
  // One level too deep for a shape, but within the nesting bound: a short quote of the shape.
  sr::test::write_bytes(dir.path("shape.safetensors"),
                        safetensors("{\"w\": {\"dtype\": \"F32\", \"shape\": [[" +
                                    std::string(5000, '1') + "]], \"data_offsets\": [0, 4]}}"));
  REQUIRE_THROWS_WITH(sr::load_weights(dir.path("shape.safetensors")),
                      Contains("invalid JSON") && !Contains(std::string(200, '1')));
  std::string many;
  for (int i = 0; i < 5000; ++i) many += "1,";
  sr::test::write_bytes(dir.path("shape.safetensors"),
                        safetensors("{\"w\": {\"dtype\": \"F32\", \"shape\": [[" + many +
                                    "1]], \"data_offsets\": [0, 4]}}"));
  try {
    sr::load_weights(dir.path("shape.safetensors"));
    FAIL("no error");
  } catch (const sr::Error& e) {
    REQUIRE_THAT(e.what(), Contains("is not a list of sizes"));
    REQUIRE(std::string(e.what()).size() < 300);  // the message quotes an excerpt, not 5000 digits
  }
}

TEST_CASE("json_depth skips strings and stops counting early", "[hostile]") {
  REQUIRE(sr::json_depth("{\"a\": [1, [2]]}") == 3);
  REQUIRE(sr::json_depth("{\"[[[[\": \"]]\"}") == 1);
  REQUIRE(sr::json_depth("\"\\\"[[\"") == 0);
  REQUIRE(sr::json_depth(std::string(1000, '['), 10) == 10);
  REQUIRE_THROWS_WITH(sr::parse_json_bounded("{\"a\": ", "hdr"), Contains("hdr: invalid JSON"));
}

TEST_CASE("Non-finite or out-of-range hyper-parameters in metadata are refused", "[hostile]") {
  const auto good = sr::config_to_metadata(sr::default_config(sr::Arch::afilm));
  REQUIRE_NOTHROW(sr::config_from_metadata(good));
  for (const auto& [key, value] : std::map<std::string, std::string>{{"leaky_alpha", "nan"},
                                                                     {"leaky_alpha", "inf"},
                                                                     {"leaky_alpha", "-0.2"},
                                                                     {"layer_norm_eps", "nan"},
                                                                     {"layer_norm_eps", "-1e-6"},
                                                                     {"generated_gain_db", "nan"},
                                                                     {"block_dropout", "inf"}}) {
    INFO(key << " = " << value);
    auto m = good;
    m[key] = value;
    REQUIRE_THROWS_WITH(sr::config_from_metadata(m), Contains(key) && Contains("must be in"));
  }
  auto bad = good;
  bad["input_filter"] = "cheby1";
  bad["input_cutoff"] = "nan";
  REQUIRE_THROWS_WITH(sr::config_from_metadata(bad), Contains("input_cutoff"));
  // Metadata lists nested inside lists are not lists of integers (and not parsed deeply).
  bad = good;
  bad["filters"] = std::string(50000, '[') + std::string(50000, ']');
  REQUIRE_THROWS_WITH(sr::config_from_metadata(bad), Contains("filters"));
}

TEST_CASE("An AFiLM head count that does not divide a width gets a user-level message",
          "[hostile]") {
  sr::ModelConfig c = sr::default_config(sr::Arch::afilm);
  c.attention_heads = 3;
  c.patch_length = 8192;
  REQUIRE_THROWS_WITH(
      sr::build_graph(c, 1, c.patch_length),
      Contains("attention_heads = 3 does not divide the width") && !Contains("check '"));
}

TEST_CASE("A FLAC header claiming 10^9 frames reserves nothing and is reported truncated",
          "[hostile]") {
  sr::test::TempDir dir;
  const std::string path = dir.path("bomb.flac");
  sr::write_audio(path, {16000, 1, sr::test::random_vector(4096, 3, 0.5f)});
  std::string bytes = sr::test::read_bytes(path);
  REQUIRE(bytes.substr(0, 4) == "fLaC");
  // STREAMINFO starts at byte 8; its total-samples field is the low 36 bits of bytes 18..25.
  const uint64_t claimed = 1000000000;
  uint64_t packed = 0;
  for (int i = 18; i < 26; ++i) packed = packed << 8 | static_cast<unsigned char>(bytes[i]);
  packed = (packed & ~((uint64_t{1} << 36) - 1)) | claimed;
  for (int i = 25; i >= 18; --i, packed >>= 8) bytes[i] = static_cast<char>(packed & 0xFF);
  // Keep only the stream header: about a hundred bytes that claim 4 GB of samples.
  sr::test::write_bytes(path, bytes.substr(0, 42));
  SF_INFO info{};
  SNDFILE* sf = sf_open(path.c_str(), SFM_READ, &info);
  REQUIRE(sf);
  sf_close(sf);
  REQUIRE(info.frames == static_cast<sf_count_t>(claimed));
  REQUIRE_THROWS_WITH(sr::read_audio(path),
                      Contains("bomb.flac") && (Contains("no audio") || Contains("truncated")));
  // The old reader resized to the claimed length (4 GB, zero-filled) before reading: measure the
  // peak resident memory of a child process doing the read.
  std::fflush(nullptr);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    try {
      sr::read_audio(path);
    } catch (const sr::Error&) {
      _exit(0);
    }
    _exit(1);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  rusage usage{};
  getrusage(RUSAGE_CHILDREN, &usage);
  REQUIRE(usage.ru_maxrss < 1024 * 1024);  // kB: well under the 4 GB the header claims
}

TEST_CASE("The memory budget names what needs how much", "[hostile]") {
  {
    const ScopedEnv limit("SR_MEMORY_LIMIT", "1.5G");
    REQUIRE(sr::memory_budget_bytes() == 1500000000u);
    REQUIRE_NOTHROW(sr::check_memory_budget(1000000000u, "x"));
    REQUIRE_THROWS_WITH(sr::check_memory_budget(2000000000u, "the patches"),
                        Contains("the patches needs 2.00 GB") && Contains("budget of 1.50 GB"));
  }
  {
    const ScopedEnv limit("SR_MEMORY_LIMIT", "lots");
    REQUIRE_THROWS_WITH(sr::memory_budget_bytes(), Contains("SR_MEMORY_LIMIT"));
  }
  {
    const ScopedEnv limit("SR_MEMORY_LIMIT", "0");  // a size, but no budget
    REQUIRE_THROWS_WITH(sr::memory_budget_bytes(), Contains("above 0"));
  }
  // The shared parser (SR_MEMORY_LIMIT, SR_FFT_WEIGHT_CACHE).
  REQUIRE(sr::parse_byte_size("800M", "x") == 800000000u);
  REQUIRE(sr::parse_byte_size("2k", "x") == 2000u);
  REQUIRE(sr::parse_byte_size("0", "x") == 0u);
  REQUIRE(sr::parse_byte_size("4096", "x") == 4096u);
  for (const char* bad : {"", "G", "1T", "-1M", "1.5GB", "nan", "1e30"}) {
    INFO(bad);
    REQUIRE_THROWS_WITH(sr::parse_byte_size(bad, "SR_FFT_WEIGHT_CACHE"),
                        Contains("SR_FFT_WEIGHT_CACHE") && Contains("not a size"));
  }
  REQUIRE(sr::product_bytes(uint64_t{1} << 40, uint64_t{1} << 30, 4) ==
          std::numeric_limits<uint64_t>::max());
  REQUIRE(sr::product_bytes(3, 5, 4) == 60);
}

TEST_CASE("Temporary files of dead processes are removed, live ones kept", "[hostile]") {
  sr::test::TempDir dir;
  const std::string out = dir.path("out.wav");
  // pid 2^22 + 1 is above Linux's pid_max limit (4194304): never a running process.
  sr::test::write_bytes(out + ".tmp-4194305", "stale");
  sr::test::write_bytes(out + ".tmp-1", "pid 1 is alive");
  sr::test::write_bytes(dir.path("other.wav.tmp-4194305"), "another output's");
  REQUIRE(sr::remove_stale_temp_files(out) == 1);
  REQUIRE(!std::filesystem::exists(out + ".tmp-4194305"));
  REQUIRE(std::filesystem::exists(out + ".tmp-1"));
  REQUIRE(std::filesystem::exists(dir.path("other.wav.tmp-4194305")));
  {
    sr::AtomicFile f(dir.path("other.wav"));  // a writer for a path cleans up its own leftovers
  }
  REQUIRE(!std::filesystem::exists(dir.path("other.wav.tmp-4194305")));
}

TEST_CASE("A FLAC of hours of digital silence is refused as a decompression bomb", "[hostile]") {
  sr::test::TempDir dir;
  const std::string path = dir.path("silence.flac");
  {
    sr::AudioWriter writer(path, 8000, 1);
    const std::vector<float> zeros(1 << 16, 0.0f);
    for (int i = 0; i < 400; ++i) writer.write(zeros.data(), zeros.size());  // 26M samples
    writer.finish();
  }
  // ~0.1 MB of file for ~100 MB of float samples: past 1024 bytes per byte of file.
  REQUIRE(std::filesystem::file_size(path) * 1024 < (uint64_t{26} << 22));
  REQUIRE_THROWS_WITH(sr::read_audio(path), Contains("decompression bomb"));
}
