// HDF5 patch files: PatchWriter -> PatchFile round trip (streamed appends, truncation, ranges,
// attributes, no file before finish), the originals' files made by h5py (fixtures from
// tests/fixtures/make_hdf5_fixture.py: data/label (N, L, 1), X/Y (N, L), float64) and the refusals.
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "sr/error.h"
#include "sr/io/hdf5_patches.h"
#include "temp_dir.h"
#include "test_util.h"

namespace {

std::string fixture(const std::string& name) {
  return std::string(SR_FIXTURE_DIR) + "/" + name;
}

// The fixture script's values: data[n, i] = n * 1000 + i + 0.25, label = -(n * 1000 + i) - 0.5.
void check_fixture_values(const sr::PatchFile& f, int64_t first, int64_t n) {
  const int64_t length = f.length();
  std::vector<float> data(n * length, std::nanf("")), label(n * length, std::nanf(""));
  f.read(first, n, data.data(), label.data());
  for (int64_t p = 0; p < n; ++p)
    for (int64_t i = 0; i < length; ++i) {
      const float base = static_cast<float>((first + p) * 1000 + i);
      REQUIRE(data[p * length + i] == base + 0.25f);
      REQUIRE(label[p * length + i] == -base - 0.5f);
    }
}

}  // namespace

TEST_CASE("PatchWriter/PatchFile round trip, streamed and truncated", "[io][hdf5]") {
  sr::test::TempDir dir;
  const std::string path = dir.path("patches.h5");
  const int64_t length = 300;  // not a divisor of the chunk size: partial chunks on every side
  const std::vector<float> data = sr::test::random_vector(50 * length, 1);
  const std::vector<float> label = sr::test::random_vector(50 * length, 2);
  {
    sr::PatchWriter w(path, length);
    // Appends of 1, 7, 0, 30 and 12 patches.
    int64_t done = 0;
    for (int64_t n : {1, 7, 0, 30, 12}) {
      w.append(data.data() + done * length, label.data() + done * length, n);
      done += n;
    }
    REQUIRE(w.count() == 50);
    w.truncate(40);  // as sr-prep keeps a multiple of the batch size
    w.set_attribute("scale", int64_t{4});
    w.set_attribute("source", std::string("unit test"));
    REQUIRE_FALSE(std::filesystem::exists(path));  // nothing at the final name before finish
    w.finish();
  }
  REQUIRE(dir.count() == 1);  // no temporary left behind
  sr::PatchFile f(path);
  REQUIRE(f.layout() == "data/label");
  REQUIRE(f.count() == 40);
  REQUIRE(f.length() == length);
  REQUIRE(f.attribute("scale", 0) == 4);
  REQUIRE(f.attribute("absent", -7) == -7);
  for (auto range : {std::pair<int64_t, int64_t>{0, 40}, {0, 1}, {13, 9}, {39, 1}, {5, 0}}) {
    const int64_t first = range.first, n = range.second;
    INFO("first=" << first << " n=" << n);
    std::vector<float> d(n * length, std::nanf("")), l(n * length, std::nanf(""));
    f.read(first, n, d.data(), l.data());
    REQUIRE(std::equal(d.begin(), d.end(), data.begin() + first * length));
    REQUIRE(std::equal(l.begin(), l.end(), label.begin() + first * length));
  }
  std::vector<float> only(3 * length);
  f.read(2, 3, nullptr, only.data());  // one side only
  REQUIRE(std::equal(only.begin(), only.end(), label.begin() + 2 * length));
  REQUIRE_THROWS_WITH(f.read(38, 3, only.data(), nullptr), Catch::Contains("the file has 40"));
  REQUIRE_THROWS_AS(f.read(-1, 1, only.data(), nullptr), sr::Error);
}

TEST_CASE("An unfinished PatchWriter leaves no file", "[io][hdf5]") {
  sr::test::TempDir dir;
  {
    sr::PatchWriter w(dir.path("never.h5"), 16);
    const std::vector<float> v(32, 0.5f);
    w.append(v.data(), v.data(), 2);
  }
  REQUIRE(dir.count() == 0);
  REQUIRE_THROWS_AS(sr::PatchWriter(dir.path("no_such_dir/x.h5"), 16), sr::Error);
  REQUIRE_THROWS_AS(sr::PatchWriter(dir.path("zero.h5"), 0), sr::Error);
  REQUIRE(dir.count() == 0);
}

TEST_CASE("PatchFile reads the originals' files made by h5py", "[io][hdf5]") {
  SECTION("data/label float32 (N, L, 1), contiguous") {
    sr::PatchFile f(fixture("hdf5_k21.h5"));
    REQUIRE(f.layout() == "data/label");
    REQUIRE(f.count() == 3);
    REQUIRE(f.length() == 16);
    check_fixture_values(f, 0, 3);
    check_fixture_values(f, 1, 2);
  }
  SECTION("X/Y float32 (N, L), the PyTorch port's") {
    sr::PatchFile f(fixture("hdf5_xy.h5"));
    REQUIRE(f.layout() == "X/Y");
    REQUIRE(f.count() == 4);
    REQUIRE(f.length() == 12);
    check_fixture_values(f, 0, 4);
    check_fixture_values(f, 3, 1);
  }
  SECTION("float64 is converted") {
    sr::PatchFile f(fixture("hdf5_f64.h5"));
    REQUIRE(f.count() == 2);
    REQUIRE(f.length() == 8);
    check_fixture_values(f, 0, 2);
  }
}

TEST_CASE("PatchFile refuses what it cannot read, naming the file and the problem", "[io][hdf5]") {
  auto refuses = [](const std::string& path, const std::string& text) {
    INFO(path);
    REQUIRE_THROWS_AS(sr::PatchFile(path), sr::Error);
    REQUIRE_THROWS_WITH(sr::PatchFile(path), Catch::Contains(path) && Catch::Contains(text));
  };
  refuses(fixture("hdf5_int.h5"), "not floating point");
  refuses(fixture("hdf5_mismatch.h5"), "mismatched shapes");
  refuses(fixture("hdf5_no_label.h5"), "no 'label'");
  refuses(fixture("hdf5_channels.h5"), "(2, 8, 2)");
  refuses(fixture("hdf5_other.h5"), "'foo'");
  refuses(fixture("hdf5_huge.h5"), "the limit is 2^24");  // declares 16 GB in 1.7 KB
  // Found by fuzzing libhdf5 1.10.8 (segfaults inside it): read first in a forked child.
  refuses(fixture("hdf5_crash_a.h5"), "corrupt HDF5 file");
  refuses(fixture("hdf5_crash_b.h5"), "corrupt HDF5 file");
  refuses(fixture("does_not_exist.h5"), "no such file");
  refuses(fixture("spline_low.npy"), "not a readable HDF5 file");
  refuses(std::string(SR_FIXTURE_DIR), "not a regular file");
}
