// Digital IIR low-pass design as scipy.signal.iirfilter(..., btype='low', output='sos') does it:
// the family's analog prototype (buttap, cheb1ap, cheb2ap, ellipap, besselap with norm='phase'),
// lp2lp_zpk to the prewarped cutoff, bilinear_zpk (fs = 2), then second-order sections. The
// response equals scipy's; the grouping of poles and zeros into sections may differ from
// zpk2sos (each complex pole pair takes the nearest remaining zero pair). Used by the training
// degradations (sr/io/degrade.h); cheby1 with scipy's exact section order for decimate lives in
// sr/io/decimate.h.
#pragma once

#include <string>
#include <vector>

#include "sr/io/decimate.h"

namespace sr {

enum class IirFamily { butter, cheby1, cheby2, ellip, bessel };

const char* iir_family_name(IirFamily f);

struct IirSpec {
  IirFamily family = IirFamily::butter;
  int order = 8;           // 1 .. 16
  double cutoff = 0.5;     // of the Nyquist frequency, 0 < cutoff < 1 (scipy's Wn)
  double ripple_db = 0.1;  // passband ripple (cheby1, ellip)
  double stop_db = 60.0;   // stopband attenuation (cheby2, ellip)
};

// The filter as second-order sections (b0, b1, b2, 1, a1, a2); a first-order section has
// b2 = a2 = 0. Throws sr::Error for an order or cutoff out of range.
std::vector<Biquad> iir_lowpass_sos(const IirSpec& spec);

// |H(e^{j pi w})| of the cascade at w in [0, 1] (fraction of Nyquist), as scipy's sosfreqz.
double sos_magnitude(const std::vector<Biquad>& sos, double w);

}  // namespace sr
