// Audio files through libsndfile (WAV, FLAC, OGG/Vorbis, Opus, ...).
#pragma once

#include <string>
#include <vector>

namespace sr {

struct Audio {
  int sample_rate = 0;
  int channels = 0;
  std::vector<float> samples;  // interleaved, frames * channels
  size_t frames() const { return channels ? samples.size() / channels : 0; }
};

// Throws sr::Error for unreadable, corrupt, truncated or empty files and for NaN/Inf samples.
Audio read_audio(const std::string& path);

// Throws sr::Error when a RIFF/WAVE file's data chunk runs past the end of the file (libsndfile
// silently reads the shorter file); any other file passes.
void check_wav_not_truncated(const std::string& path);

// Streaming writer: the file appears at `path` only when finish() succeeds (temporary name, then
// rename); destroying an unfinished writer removes the temporary file. Format from the extension
// (.wav is 16-bit PCM unless `float_samples`; .flac 16-bit; .ogg Vorbis).
class AudioWriter {
 public:
  AudioWriter(const std::string& path, int sample_rate, int channels, bool float_samples = false);
  ~AudioWriter();
  AudioWriter(const AudioWriter&) = delete;
  AudioWriter& operator=(const AudioWriter&) = delete;
  void write(const float* interleaved, size_t frames);
  void finish();

 private:
  struct Impl;
  Impl* impl_;
};

void write_audio(const std::string& path, const Audio& audio);

}  // namespace sr
