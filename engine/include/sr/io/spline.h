// Interpolating not-a-knot cubic spline, as scipy's splrep(k=3, s=0)/splev (spec 5.1 step 4).
#pragma once

#include <vector>

namespace sr {

// Knots at positions 0, r, 2r, ..., (n-1)r; evaluated at 0 .. n*r-1 (the last r-1 samples are
// extrapolated with the last cubic piece). Output length n*r. Needs n >= 1; n < 4 falls back to
// the polynomial through the points (what not-a-knot reduces to).
std::vector<float> spline_upsample(const std::vector<float>& low, int r);

}  // namespace sr
