// Audio files through libsndfile. Reads are validated (truncation, emptiness, NaN/Inf) because a
// silently short or corrupt input would otherwise surface much later as a puzzling model output.
#include "sr/io/audio.h"

#include <sndfile.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "sr/error.h"
#include "sr/io/atomic_file.h"
#include "sr/memory_budget.h"

namespace sr {
namespace {

// Refuse before allocating: 2^31 samples is 8 GiB of float, hours of multichannel audio.
constexpr int64_t kMaxSamples = int64_t{1} << 31;

uint32_t le32(const unsigned char* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

}  // namespace

// libsndfile quietly shortens a RIFF/WAVE file whose data chunk runs past the end of the file, so
// truncation has to be spotted from the chunk header itself. Streaming writers put 0 or 0xFFFFFFFF
// in the size field; those are not truncation.
void check_wav_not_truncated(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return;  // libsndfile opened it; any real problem shows up in the read
  if (std::fseek(f.get(), 0, SEEK_END) != 0) return;
  long file_size = std::ftell(f.get());
  if (file_size < 12 || std::fseek(f.get(), 0, SEEK_SET) != 0) return;
  unsigned char head[12];
  if (std::fread(head, 1, 12, f.get()) != 12) return;
  if (std::string(reinterpret_cast<char*>(head), 4) != "RIFF" ||
      std::string(reinterpret_cast<char*>(head) + 8, 4) != "WAVE")
    return;
  int64_t pos = 12;
  for (int chunk = 0; chunk < 1000 && pos + 8 <= file_size; ++chunk) {
    unsigned char ch[8];
    if (std::fseek(f.get(), static_cast<long>(pos), SEEK_SET) != 0 ||
        std::fread(ch, 1, 8, f.get()) != 8)
      return;
    uint32_t size = le32(ch + 4);
    pos += 8;
    if (std::string(reinterpret_cast<char*>(ch), 4) == "data") {
      int64_t available = file_size - pos;
      if (size != 0 && size != 0xFFFFFFFFu && int64_t{size} > available)
        fail(path, ": truncated: header says ", size, " bytes of audio, file has ", available);
      return;
    }
    pos += int64_t{size} + (size & 1);
  }
}

namespace {

std::string lower_extension(const std::string& path) {
  size_t slash = path.find_last_of('/');
  size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string ext = path.substr(dot);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

int format_for(const std::string& path, bool float_samples) {
  std::string ext = lower_extension(path);
  if (ext == ".wav") return SF_FORMAT_WAV | (float_samples ? SF_FORMAT_FLOAT : SF_FORMAT_PCM_16);
  if (ext == ".flac") return SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
  if (ext == ".ogg") return SF_FORMAT_OGG | SF_FORMAT_VORBIS;
  if (ext == ".opus") return SF_FORMAT_OGG | SF_FORMAT_OPUS;
  fail(path, ": unknown output format '", ext.empty() ? std::string("(no extension)") : ext,
       "' (use .wav, .flac, .ogg or .opus)");
}

}  // namespace

Audio read_audio(const std::string& path) {
  SF_INFO info{};
  SNDFILE* raw = sf_open(path.c_str(), SFM_READ, &info);
  if (!raw) fail(path, ": not a readable audio file (", sf_strerror(nullptr), ")");
  std::unique_ptr<SNDFILE, int (*)(SNDFILE*)> sf(raw, &sf_close);

  if (info.channels <= 0 || info.samplerate <= 0)
    fail(path, ": invalid header (", info.channels, " channels, ", info.samplerate, " Hz)");
  if (info.frames <= 0) fail(path, ": contains no audio");
  if ((info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_WAV) check_wav_not_truncated(path);
  // Some streams (a cut Ogg/Opus file, for one) do not know their length: libsndfile reports
  // SF_COUNT_MAX, and we read until the decoder stops.
  const bool length_known = info.frames != SF_COUNT_MAX;
  if (length_known && info.frames > kMaxSamples / info.channels)
    fail(path, ": too large (", info.frames, " frames x ", info.channels,
         " channels; the limit is 2^31 samples)");

  Audio audio;
  audio.sample_rate = info.samplerate;
  audio.channels = info.channels;
  sf_command(sf.get(), SFC_SET_NORM_FLOAT, nullptr, SF_TRUE);  // integer PCM -> [-1, 1]
  // Read in chunks into a buffer that grows with what really decodes: a ~100-byte header may
  // claim 10^9 frames, so its length is never the size of an allocation.
  const sf_count_t chunk = 1 << 16;
  const int64_t channels = info.channels;
  std::error_code size_error;
  const auto file_size = std::filesystem::file_size(path, size_error);
  const int64_t file_bytes = size_error ? 0 : static_cast<int64_t>(file_size);
  sf_count_t got = 0;
  for (;;) {
    if (length_known && got >= info.frames) break;
    const int64_t need = (got + chunk) * channels;
    // Real codecs stay far below 1024 bytes of float samples per byte of file (Opus at 6
    // kbit/s: ~250); a few hundred KB of FLAC can encode hours of digital silence.
    if (file_bytes > 0 && need * 4 > std::max<int64_t>(int64_t{64} << 20, 1024 * file_bytes))
      fail(path, ": decodes to more than 1024 bytes of samples per byte of file (", file_bytes,
           " bytes): a decompression bomb?");
    if (need > static_cast<int64_t>(audio.samples.size())) {
      if (need > kMaxSamples) fail(path, ": too large (more than 2^31 samples)");
      const int64_t size =
          std::min(std::max(need, 2 * static_cast<int64_t>(audio.samples.size())), kMaxSamples);
      check_memory_budget(product_bytes(static_cast<uint64_t>(size), 1, sizeof(float)),
                          path + ": reading the audio (" + std::to_string(got) + " frames so far)");
      audio.samples.resize(static_cast<size_t>(size));
    }
    const sf_count_t ask = length_known ? std::min<sf_count_t>(chunk, info.frames - got) : chunk;
    const sf_count_t n = sf_readf_float(sf.get(), audio.samples.data() + got * channels, ask);
    if (n <= 0) break;
    got += n;
  }
  if (sf_error(sf.get()) != SF_ERR_NO_ERROR)
    fail(path, ": corrupt audio data (", sf_strerror(sf.get()), ")");
  if (length_known && got < info.frames)
    fail(path, ": truncated: header says ", info.frames, " frames, only ", got, " could be read");
  if (got == 0) fail(path, ": contains no audio");
  audio.samples.resize(static_cast<size_t>(got) * info.channels);
  audio.samples.shrink_to_fit();
  for (float v : audio.samples)
    if (!std::isfinite(v)) fail(path, ": contains NaN or infinite samples");
  return audio;
}

struct AudioWriter::Impl {
  explicit Impl(const std::string& p) : path(p), file(p) {}
  std::string path;
  AtomicFile file;
  SNDFILE* sf = nullptr;
  int channels = 0;
};

AudioWriter::AudioWriter(const std::string& path, int sample_rate, int channels,
                         bool float_samples) {
  if (sample_rate <= 0) fail(path, ": invalid sample rate ", sample_rate);
  if (channels <= 0) fail(path, ": invalid channel count ", channels);
  SF_INFO info{};
  info.samplerate = sample_rate;
  info.channels = channels;
  info.format = format_for(path, float_samples);
  if (!sf_format_check(&info))
    fail(path, ": this format cannot hold ", channels, " channel(s) at ", sample_rate, " Hz");
  auto impl = std::make_unique<Impl>(path);
  impl->channels = channels;
  impl->sf = sf_open(impl->file.temp_path().c_str(), SFM_WRITE, &info);
  if (!impl->sf) fail(path, ": cannot open for writing (", sf_strerror(nullptr), ")");
  // Integer formats saturate instead of wrapping around when a sample exceeds [-1, 1].
  if ((info.format & SF_FORMAT_SUBMASK) == SF_FORMAT_PCM_16)
    sf_command(impl->sf, SFC_SET_CLIPPING, nullptr, SF_TRUE);
  impl_ = impl.release();
}

AudioWriter::~AudioWriter() {
  if (impl_->sf) sf_close(impl_->sf);
  delete impl_;  // the AtomicFile removes the temporary file unless finish() committed it
}

void AudioWriter::write(const float* interleaved, size_t frames) {
  if (!impl_->sf) fail(impl_->path, ": write after finish()");
  if (frames == 0) return;
  const size_t count = frames * static_cast<size_t>(impl_->channels);
  for (size_t i = 0; i < count; ++i)
    if (!std::isfinite(interleaved[i]))
      fail(impl_->path, ": refusing to write NaN or infinite samples (frame ", i / impl_->channels,
           ")");
  sf_count_t n = sf_writef_float(impl_->sf, interleaved, static_cast<sf_count_t>(frames));
  if (n != static_cast<sf_count_t>(frames))
    fail(impl_->path, ": write failed (", sf_strerror(impl_->sf), ")");
}

void AudioWriter::finish() {
  if (!impl_->sf) fail(impl_->path, ": finish() called twice");
  int rc = sf_close(impl_->sf);
  impl_->sf = nullptr;
  if (rc != 0) fail(impl_->path, ": write failed while closing (", sf_error_number(rc), ")");
  impl_->file.commit();
}

void write_audio(const std::string& path, const Audio& audio) {
  if (audio.channels <= 0) fail(path, ": invalid channel count ", audio.channels);
  if (audio.samples.size() % static_cast<size_t>(audio.channels) != 0)
    fail(path, ": ", audio.samples.size(), " samples is not a whole number of ", audio.channels,
         "-channel frames");
  AudioWriter writer(path, audio.sample_rate, audio.channels);
  writer.write(audio.samples.data(), audio.frames());
  writer.finish();
}

}  // namespace sr
