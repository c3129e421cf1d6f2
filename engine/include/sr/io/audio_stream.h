// Streaming audio input and sample-rate conversion, so that memory does not grow with file length.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sr {

// Reads an audio file in chunks (any format libsndfile reads). Throws sr::Error for unreadable,
// empty or truncated files and for NaN/Inf samples, naming the file.
class AudioReader {
 public:
  explicit AudioReader(const std::string& path);
  ~AudioReader();
  AudioReader(const AudioReader&) = delete;
  AudioReader& operator=(const AudioReader&) = delete;
  int sample_rate() const { return rate_; }
  int channels() const { return channels_; }
  int64_t frames() const { return frames_; }  // as the header says
  // Fills `out` with up to `max_frames` interleaved frames; returns 0 at the end.
  size_t read(std::vector<float>& out, size_t max_frames);

 private:
  std::string path_;
  void* file_ = nullptr;  // SNDFILE*
  int rate_ = 0, channels_ = 0;
  int64_t frames_ = 0, read_ = 0;
};

// Streaming band-limited resampler (libsoxr, high quality) over interleaved frames.
class StreamResampler {
 public:
  StreamResampler(int in_rate, int out_rate, int channels);
  ~StreamResampler();
  StreamResampler(const StreamResampler&) = delete;
  StreamResampler& operator=(const StreamResampler&) = delete;
  // Appends converted frames to `out`; `count` = 0 with `flush` drains the filter at the end.
  void process(const float* frames, size_t count, std::vector<float>& out, bool flush = false);

 private:
  void* soxr_ = nullptr;  // soxr_t
  int channels_;
  double ratio_;
};

}  // namespace sr
