// The robust-SR recipe's data preparation (tan90xx/audio-super-resolution-tf, data/prep_dataset.py,
// after H. Wang and D. L. Wang, "Towards Robust Speech Super-Resolution", IEEE/ACM TASLP 2021):
// a silence filter, mean-variance normalisation and its low-rate schemes, for sr-prep.
#pragma once

#include <cstddef>
#include <vector>

namespace sr {

// librosa.effects.trim(x, top_db = -10 log10(threshold), frame_length, hop_length) as the recipe
// calls it (threshold 0.05: 13 dB): frame RMS (centred frames, zero padding), frames more than
// top_db below the loudest frame are silent, the leading and trailing silent frames are cut.
// Digital silence is kept whole (every frame is as loud as the loudest), as librosa does.
std::vector<float> trim_silence(const std::vector<float>& x, double threshold, int frame_length,
                                int hop_length);

// x <- (x - mean) / std (population std, numpy's default); constant input is only centred.
void mean_variance_normalize(std::vector<float>& x);

// scipy.signal.resample(x, num): the FFT method (bins above the new Nyquist dropped, the
// Nyquist bin of an even-length result doubled as scipy does when downsampling).
std::vector<float> fft_resample(const std::vector<float>& x, size_t num);

// The recipe's "subsampling" scheme: scipy cheby1(8, 1 dB, 1/r of Nyquist) run causally
// (lfilter), then x[::r]. x: (n,) -> (ceil(n / r),)
std::vector<float> cheby1_causal_subsample(const std::vector<float>& x, int r);

}  // namespace sr
