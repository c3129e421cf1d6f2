// .npy reading and writing: round trips, float64 input, header layout, and refusal of files we
// cannot read correctly (with a word in the message that says why).
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "sr/error.h"
#include "sr/io/npy.h"
#include "temp_dir.h"
#include "test_util.h"

using Catch::Contains;

namespace {

// A hand-made .npy file: magic, version, header length, the dict padded to 64 bytes, then data.
std::string make_npy(const std::string& dict, const std::string& data, int major = 1) {
  const size_t pre = major == 1 ? 10 : 12;
  std::string header = dict;
  while ((pre + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  for (size_t i = 0; i < pre - 8; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  return out + header + data;
}

template <typename T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

}  // namespace

TEST_CASE("npy round trip keeps shape and values", "[io][npy]") {
  sr::test::TempDir tmp;
  for (const std::vector<int64_t>& dims :
       {std::vector<int64_t>{3, 5}, {7}, {2, 3, 4}, {}, {0, 4}}) {
    int64_t numel = 1;
    for (int64_t d : dims) numel *= d;
    sr::NpyArray a{dims, sr::test::random_vector(static_cast<size_t>(numel), 5)};
    const std::string path = tmp.path("a.npy");
    sr::write_npy(path, a);
    const sr::NpyArray b = sr::read_npy(path);
    REQUIRE(b.dims == a.dims);
    REQUIRE(b.values == a.values);

    // numpy's layout: version 1.0, data on a 64-byte boundary, header ending in '\n'.
    const std::string bytes = sr::test::read_bytes(path);
    REQUIRE(bytes[6] == 1);
    const size_t header_len =
        static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
    REQUIRE((10 + header_len) % 64 == 0);
    REQUIRE(bytes[10 + header_len - 1] == '\n');
    REQUIRE(bytes.size() == 10 + header_len + 4 * a.values.size());
  }
  REQUIRE(tmp.count() == 1);  // no temporary files left behind
}

TEST_CASE("npy reads float64 and version 2.0 files", "[io][npy]") {
  sr::test::TempDir tmp;
  const std::vector<double> v{1.0, -2.5, 3.25, 1e-3, 0.0, 7.0};
  sr::test::write_bytes(
      tmp.path("f8.npy"),
      make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", raw(v)));
  sr::NpyArray a = sr::read_npy(tmp.path("f8.npy"));
  REQUIRE(a.dims == std::vector<int64_t>{2, 3});
  for (size_t i = 0; i < v.size(); ++i) REQUIRE(a.values[i] == static_cast<float>(v[i]));

  const std::vector<float> f{0.5f, 1.5f};
  sr::test::write_bytes(
      tmp.path("v2.npy"),
      make_npy("{'fortran_order': False, 'shape': (2,), 'descr': '<f4'}", raw(f), 2));
  a = sr::read_npy(tmp.path("v2.npy"));
  REQUIRE(a.dims == std::vector<int64_t>{2});
  REQUIRE(a.values == f);
}

TEST_CASE("npy refuses files it cannot read correctly", "[io][npy]") {
  sr::test::TempDir tmp;
  const std::string p = tmp.path("bad.npy");
  const std::string four = raw(std::vector<float>{1, 2, 3, 4});

  sr::test::write_bytes(
      p, make_npy("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", four));
  REQUIRE_THROWS_WITH(sr::read_npy(p), Contains("big-endian"));

  sr::test::write_bytes(
      p, make_npy("{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }", four));
  REQUIRE_THROWS_WITH(sr::read_npy(p), Contains("unsupported dtype '<i4'"));

  sr::test::write_bytes(
      p, make_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", four));
  REQUIRE_THROWS_WITH(sr::read_npy(p), Contains("Fortran"));

  sr::test::write_bytes(
      p, make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", four));
  REQUIRE_THROWS_WITH(sr::read_npy(p), Contains("truncated"));

  sr::test::write_bytes(
      p, make_npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,), }", four));
  REQUIRE_THROWS_WITH(sr::read_npy(p), Contains("structured"));

  sr::test::write_bytes(p, make_npy("{'descr': '<f4', 'shape': (4,), }", four));
  REQUIRE_THROWS_WITH(sr::read_npy(p), Contains("fortran_order"));

  sr::test::write_bytes(p, "PK\x03\x04 this is a zip archive, not an array");
  REQUIRE_THROWS_WITH(sr::read_npy(p), Contains("not a .npy file"));

  sr::test::write_bytes(
      p, make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", four).substr(0, 40));
  REQUIRE_THROWS_WITH(sr::read_npy(p), Contains("truncated"));

  REQUIRE_THROWS_WITH(sr::read_npy(tmp.path("missing.npy")), Contains("cannot open"));
}

TEST_CASE("write_npy refuses a shape that does not match the values", "[io][npy]") {
  sr::test::TempDir tmp;
  REQUIRE_THROWS_WITH(sr::write_npy(tmp.path("x.npy"), sr::NpyArray{{2, 3}, {1, 2, 3}}),
                      Contains("holds 6 values"));
  REQUIRE(tmp.count() == 0);
}
