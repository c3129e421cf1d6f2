// libFuzzer: the .npy reader (test fixtures, sr-infer's .npy mode).
#include <cstddef>
#include <cstdint>

#include "fuzz_input_file.h"
#include "sr/error.h"
#include "sr/io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const sr::fuzz::InputFile file(data, size, ".npy");
  try {
    sr::read_npy(file.path());
  } catch (const sr::Error&) {
  }
  return 0;
}
