// libFuzzer: the HDF5 patch reader through its public, guarded path (libhdf5 runs first in a
// forked child, so a libhdf5 crash must come back as sr::Error, never a crash here).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_input_file.h"
#include "sr/error.h"
#include "sr/io/hdf5_patches.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const sr::fuzz::InputFile file(data, size, ".h5");
  try {
    const sr::PatchFile patches(file.path());
    const int64_t n = patches.count() < 4 ? patches.count() : 4;
    std::vector<float> a(static_cast<size_t>(n * patches.length())), b(a.size());
    patches.read(0, n, a.data(), b.data());
    patches.attribute("sample_rate", 0);
  } catch (const sr::Error&) {
  }
  return 0;
}
