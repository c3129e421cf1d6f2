// Weights files: round trip with metadata, safetensors layout, half/double inputs, and one clear
// error for each kind of broken file.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "sr/error.h"
#include "sr/weights.h"
#include "temp_dir.h"
#include "test_util.h"

using Catch::Contains;

namespace {

// A hand-made safetensors file: u64 header length, the JSON header, then the data bytes.
std::string make_file(const std::string& header, const std::string& data) {
  std::string out;
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out += static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + header + data;
}

template <typename T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

sr::WeightFile sample_file() {
  sr::WeightFile f;
  f.metadata = {{"format_version", "1"}, {"architecture", "audiounet"}, {"layers", "4"}};
  f.tensors["down.0.conv.weight"] = {{3, 2, 4}, sr::test::random_vector(24, 1)};
  f.tensors["down.0.conv.bias"] = {{4}, sr::test::random_vector(4, 2)};
  f.tensors["scale"] = {{}, {0.75f}};
  f.tensors["empty"] = {{0, 3}, {}};
  return f;
}

}  // namespace

TEST_CASE("weights round trip keeps metadata, shapes and values", "[io][weights]") {
  sr::test::TempDir tmp;
  const std::string path = tmp.path("w.safetensors");
  const sr::WeightFile f = sample_file();
  sr::save_weights(path, f);
  const sr::WeightFile g = sr::load_weights(path);
  REQUIRE(g.metadata == f.metadata);
  REQUIRE(g.tensors.size() == f.tensors.size());
  for (const auto& [name, w] : f.tensors) {
    INFO(name);
    REQUIRE(g.tensors.count(name) == 1);
    REQUIRE(g.tensors.at(name).dims == w.dims);
    REQUIRE(g.tensors.at(name).values == w.values);
  }
  // safetensors layout: the data section starts on an 8-byte boundary and holds exactly the data.
  const std::string bytes = sr::test::read_bytes(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | static_cast<unsigned char>(bytes[i]);
  REQUIRE((8 + n) % 8 == 0);
  REQUIRE(bytes.size() == 8 + n + 4 * (24 + 4 + 1));
  REQUIRE(tmp.count() == 1);  // no temporary file left behind
}

TEST_CASE("weights load converts F16, BF16 and F64 to float32", "[io][weights]") {
  sr::test::TempDir tmp;
  const std::string path = tmp.path("mixed.safetensors");
  // 1.5, -2, 0.25 and the smallest F16 subnormal 2^-24, in each encoding.
  const std::vector<uint16_t> f16{0x3E00, 0xC000, 0x3400, 0x0001};
  const std::vector<uint16_t> bf16{0x3FC0, 0xC000, 0x3E80, 0x3380};
  const std::vector<double> f64{1.5, -2.0, 0.25, std::ldexp(1.0, -24)};
  const std::string header = R"({"a":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},)"
                             R"("b":{"dtype":"BF16","shape":[2,2],"data_offsets":[8,16]},)"
                             R"("c":{"dtype":"F64","shape":[4],"data_offsets":[16,48]}})";
  sr::test::write_bytes(path, make_file(header, raw(f16) + raw(bf16) + raw(f64)));
  const sr::WeightFile w = sr::load_weights(path);
  const std::vector<float> expect{1.5f, -2.0f, 0.25f, std::ldexp(1.0f, -24)};
  REQUIRE(w.tensors.at("a").values == expect);
  REQUIRE(w.tensors.at("b").values == expect);
  REQUIRE(w.tensors.at("b").dims == std::vector<int64_t>{2, 2});
  REQUIRE(w.tensors.at("c").values == expect);
  REQUIRE(w.metadata.empty());
}

TEST_CASE("weights loader refuses broken files with a clear reason", "[io][weights]") {
  sr::test::TempDir tmp;
  const std::string p = tmp.path("bad.safetensors");
  const std::string six_floats = raw(std::vector<float>{1, 2, 3, 4, 5, 6});
  auto tensor = [](const std::string& dtype, const std::string& shape, int b, int e) {
    return R"({"t":{"dtype":")" + dtype + R"(","shape":)" + shape + R"(,"data_offsets":[)" +
           std::to_string(b) + "," + std::to_string(e) + "]}}";
  };

  // Truncated: a valid file cut short inside the tensor data.
  sr::save_weights(p, sample_file());
  std::string good = sr::test::read_bytes(p);
  sr::test::write_bytes(p, good.substr(0, good.size() - 10));
  REQUIRE_THROWS_WITH(sr::load_weights(p), Contains("truncated") && Contains("tensor data"));
  // ... and inside the header.
  sr::test::write_bytes(p, good.substr(0, 30));
  REQUIRE_THROWS_WITH(sr::load_weights(p), Contains("truncated"));

  sr::test::write_bytes(p, "abc");
  REQUIRE_THROWS_WITH(sr::load_weights(p), Contains("not a weights file"));

  sr::test::write_bytes(p, std::string("RIFF\x24\x08\x00\x00WAVEfmt garbage, not weights", 33));
  REQUIRE_THROWS_WITH(sr::load_weights(p), Contains("not a safetensors file"));

  sr::test::write_bytes(p, make_file(R"({"t": {"dtype": "F32", "shape": [6],)", six_floats));
  REQUIRE_THROWS_WITH(sr::load_weights(p), Contains("invalid JSON"));

  sr::test::write_bytes(p, make_file(tensor("F32", "[2,3]", 0, 20), six_floats));
  REQUIRE_THROWS_WITH(sr::load_weights(p), Contains("needs 24 bytes"));

  sr::test::write_bytes(p, make_file(tensor("I64", "[3]", 0, 24), six_floats));
  REQUIRE_THROWS_WITH(sr::load_weights(p), Contains("unsupported dtype 'I64'"));

  sr::test::write_bytes(p, make_file(R"({"t":{"shape":[6],"data_offsets":[0,24]}})", six_floats));
  REQUIRE_THROWS_WITH(sr::load_weights(p), Contains("missing dtype"));

  sr::test::write_bytes(p, make_file(tensor("F32", "[8]", 0, 32), six_floats));
  REQUIRE_THROWS_WITH(sr::load_weights(p), Contains("truncated"));

  sr::test::write_bytes(p, make_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                                     R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                                     six_floats));
  REQUIRE_THROWS_WITH(sr::load_weights(p), Contains("overlap"));

  std::vector<float> nan_values{1, 2, std::numeric_limits<float>::quiet_NaN(), 4, 5, 6};
  sr::test::write_bytes(p, make_file(tensor("F32", "[6]", 0, 24), raw(nan_values)));
  REQUIRE_THROWS_WITH(sr::load_weights(p), Contains("weight 't' contains NaN"));

  std::vector<float> inf_values{1, 2, 3, std::numeric_limits<float>::infinity(), 5, 6};
  sr::test::write_bytes(p, make_file(tensor("F32", "[6]", 0, 24), raw(inf_values)));
  REQUIRE_THROWS_WITH(sr::load_weights(p), Contains("infinite"));

  sr::test::write_bytes(p, make_file(R"({"__metadata__":{"layers":4}})", ""));
  REQUIRE_THROWS_WITH(sr::load_weights(p), Contains("not a string"));

  REQUIRE_THROWS_WITH(sr::load_weights(tmp.path("missing.safetensors")), Contains("cannot open"));
  // Every message names the file.
  REQUIRE_THROWS_WITH(sr::load_weights(p), Contains(p));
}

TEST_CASE("save_weights refuses inconsistent or non-finite tensors", "[io][weights]") {
  sr::test::TempDir tmp;
  sr::WeightFile f;
  f.tensors["w"] = {{2, 3}, {1, 2, 3}};
  REQUIRE_THROWS_WITH(sr::save_weights(tmp.path("a.safetensors"), f), Contains("holds 3"));
  f.tensors["w"] = {{3}, {1, std::nanf(""), 3}};
  REQUIRE_THROWS_WITH(sr::save_weights(tmp.path("a.safetensors"), f), Contains("NaN"));
  REQUIRE(tmp.count() == 0);
}

TEST_CASE("check_weights_match lists missing, unexpected and mis-shaped tensors", "[io][weights]") {
  sr::WeightFile f;
  f.tensors["a"] = {{2}, {1, 2}};
  f.tensors["c"] = {{1}, {1}};
  f.tensors["d"] = {{2, 3}, std::vector<float>(6, 0.5f)};
  REQUIRE_NOTHROW(sr::check_weights_match(f, {{"a", {2}}, {"c", {1}}, {"d", {2, 3}}}));

  std::map<std::string, std::vector<int64_t>> expected{
      {"a", {2}}, {"b", {4}}, {"b2", {1}}, {"d", {3, 2}}};
  REQUIRE_THROWS_WITH(sr::check_weights_match(f, expected),
                      Contains("missing: b, b2") && Contains("unexpected: c") &&
                          Contains("d has shape [2,3], expected [3,2]"));

  std::map<std::string, std::vector<int64_t>> many;
  for (int i = 0; i < 15; ++i) many["m" + std::to_string(i + 10)] = {1};
  for (const auto& [name, w] : f.tensors) many[name] = w.dims;
  try {
    sr::check_weights_match(f, many);
    FAIL("expected an error");
  } catch (const sr::Error& e) {
    const std::string msg = e.what();
    CHECK_THAT(msg, Contains("missing: m10, m11") && Contains("m19 and 5 more"));
    CHECK(msg.find("m20") == std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
  }
}
