// Band-limited sample-rate conversion (libsoxr, high quality) for inputs at a rate the model does
// not serve.
#pragma once

#include <vector>

namespace sr {

// One channel; output length round(n * out_rate / in_rate).
std::vector<float> resample(const std::vector<float>& x, int in_rate, int out_rate);

}  // namespace sr
