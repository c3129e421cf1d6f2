// libFuzzer: the audio readers (whole file and streaming) on WAV, FLAC and Ogg bytes; the first
// input byte picks the extension libsndfile sees.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_input_file.h"
#include "sr/error.h"
#include "sr/io/audio.h"
#include "sr/io/audio_stream.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const char* kExtensions[] = {".wav", ".flac", ".ogg", ".raw"};
  const sr::fuzz::InputFile file(data + 1, size - 1, kExtensions[data[0] % 4]);
  try {
    sr::read_audio(file.path());
  } catch (const sr::Error&) {
  }
  try {
    sr::AudioReader reader(file.path());
    std::vector<float> buffer;
    for (int i = 0; i < 64 && reader.read(buffer, 4096) > 0; ++i) {
    }
  } catch (const sr::Error&) {
  }
  return 0;
}
