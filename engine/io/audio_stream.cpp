#include "sr/io/audio_stream.h"

#include <sndfile.h>
#include <soxr.h>

#include <cmath>

#include "sr/error.h"
#include "sr/io/audio.h"

namespace sr {

AudioReader::AudioReader(const std::string& path) : path_(path) {
  SF_INFO info{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (!f) fail(path, ": not a readable audio file (", sf_strerror(nullptr), ")");
  file_ = f;
  rate_ = info.samplerate;
  channels_ = info.channels;
  frames_ = info.frames;
  if (rate_ <= 0 || channels_ <= 0 || channels_ > 64) {
    sf_close(f);
    fail(path, ": unsupported sample rate ", rate_, " or channel count ", channels_);
  }
  if (frames_ <= 0) {
    sf_close(f);
    fail(path, ": contains no audio");
  }
  const int type = info.format & SF_FORMAT_TYPEMASK;
  if (type == SF_FORMAT_WAV || type == SF_FORMAT_WAVEX) {
    try {
      check_wav_not_truncated(path);
    } catch (...) {
      sf_close(f);
      throw;
    }
  }
  // Formats whose length the header cannot know (some Ogg streams) report a huge frame count.
  sf_command(f, SFC_SET_NORM_FLOAT, nullptr, SF_TRUE);
}

AudioReader::~AudioReader() {
  if (file_) sf_close(static_cast<SNDFILE*>(file_));
}

size_t AudioReader::read(std::vector<float>& out, size_t max_frames) {
  out.resize(max_frames * channels_);
  sf_count_t got = sf_readf_float(static_cast<SNDFILE*>(file_), out.data(), max_frames);
  if (got < 0) got = 0;
  out.resize(static_cast<size_t>(got) * channels_);
  for (float v : out)
    if (!std::isfinite(v)) fail(path_, ": contains NaN or infinite samples");
  read_ += got;
  if (got == 0) {
    int err = sf_error(static_cast<SNDFILE*>(file_));
    if (err != SF_ERR_NO_ERROR) fail(path_, ": read error (", sf_error_number(err), ")");
    if (read_ == 0) fail(path_, ": contains no audio");
    if (read_ < frames_ && frames_ < (int64_t{1} << 40))
      fail(path_, ": truncated: header promises ", frames_, " frames, file holds ", read_);
  }
  return static_cast<size_t>(got);
}

StreamResampler::StreamResampler(int in_rate, int out_rate, int channels)
    : channels_(channels), ratio_(static_cast<double>(out_rate) / in_rate) {
  if (in_rate <= 0 || out_rate <= 0) fail("bad resampling rates ", in_rate, " -> ", out_rate);
  soxr_error_t error = nullptr;
  soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
  soxr_ = soxr_create(in_rate, out_rate, channels, &error, &io, &q, nullptr);
  if (error) fail("cannot create resampler: ", error);
}

StreamResampler::~StreamResampler() {
  if (soxr_) soxr_delete(static_cast<soxr_t>(soxr_));
}

void StreamResampler::process(const float* frames, size_t count, std::vector<float>& out,
                              bool flush) {
  // soxr may hold back some output; loop until it has nothing more for this input.
  size_t capacity = static_cast<size_t>(count * ratio_) + 1024;
  std::vector<float> buffer(capacity * channels_);
  size_t consumed_total = 0;
  while (true) {
    size_t used = 0, produced = 0;
    const float* in = flush ? nullptr : frames + consumed_total * channels_;
    size_t in_len = flush ? 0 : count - consumed_total;
    soxr_error_t error = soxr_process(static_cast<soxr_t>(soxr_), in, in_len, &used, buffer.data(),
                                      capacity, &produced);
    if (error) fail("resampling failed: ", error);
    out.insert(out.end(), buffer.begin(), buffer.begin() + produced * channels_);
    consumed_total += used;
    if (flush ? produced == 0 : (consumed_total >= count && produced < capacity)) break;
  }
}

}  // namespace sr
