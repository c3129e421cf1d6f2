// IIR low-pass design against scipy.signal.iirfilter (fixtures/iir/make_iir_fixture.py): the
// magnitude response of every family at orders 2-12, in and around the transition band.
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

#include "sr/io/iir_design.h"
#include "test_util.h"

namespace {

sr::IirFamily family_named(const std::string& name) {
  for (sr::IirFamily f : {sr::IirFamily::butter, sr::IirFamily::cheby1, sr::IirFamily::cheby2,
                          sr::IirFamily::ellip, sr::IirFamily::bessel})
    if (name == sr::iir_family_name(f)) return f;
  FAIL("unknown family " << name);
  return sr::IirFamily::butter;
}

}  // namespace

TEST_CASE("iir_lowpass_sos matches scipy's iirfilter response", "[io][iir]") {
  std::ifstream in(std::string(SR_FIXTURE_DIR) + "/iir/iir_reference.txt");
  REQUIRE(in);
  std::string line;
  int cases = 0;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    std::string name;
    sr::IirSpec spec;
    s >> name >> spec.order >> spec.cutoff >> spec.ripple_db >> spec.stop_db;
    spec.family = family_named(name);
    const auto sos = sr::iir_lowpass_sos(spec);
    REQUIRE(sos.size() == static_cast<size_t>((spec.order + 1) / 2));
    double w, want;
    while (s >> w >> want) {
      const double got = sr::sos_magnitude(sos, w);
      INFO(name << " order " << spec.order << " cutoff " << spec.cutoff << " at " << w << ": "
                << got << " vs scipy " << want);
      REQUIRE(std::fabs(got - want) <= 1e-10 + 1e-7 * want);
    }
    ++cases;
  }
  REQUIRE(cases == 17);
}

TEST_CASE("iir_lowpass_sos refuses orders and cutoffs out of range", "[io][iir]") {
  sr::IirSpec spec;
  spec.order = 0;
  REQUIRE_THROWS(sr::iir_lowpass_sos(spec));
  spec.order = 4;
  spec.cutoff = 1.0;
  REQUIRE_THROWS(sr::iir_lowpass_sos(spec));
}

TEST_CASE("iir_lowpass_sos designs every filter the degradations draw", "[io][iir]") {
  // The corners of sr::degrade's ranges: orders 2-12, cutoffs 0.7/r .. 1/r for r = 2..8,
  // ripple 0.05-1 dB, stop band 30-80 dB. Each design is stable with a pass band near 1.
  for (sr::IirFamily f : {sr::IirFamily::butter, sr::IirFamily::cheby1, sr::IirFamily::cheby2,
                          sr::IirFamily::ellip, sr::IirFamily::bessel})
    for (int order = 2; order <= 12; ++order)
      for (double cutoff : {0.0875, 0.125, 0.35, 0.4, 0.5})
        for (double rp : {0.05, 0.3, 1.0})
          for (double rs : {30.0, 55.0, 80.0}) {
            sr::IirSpec spec;
            spec.family = f;
            spec.order = order;
            spec.cutoff = cutoff;
            spec.ripple_db = rp;
            spec.stop_db = rs;
            INFO(sr::iir_family_name(f)
                 << " order " << order << " cutoff " << cutoff << " rp " << rp << " rs " << rs);
            const auto sos = sr::iir_lowpass_sos(spec);
            for (const sr::Biquad& s : sos) REQUIRE(std::fabs(s[5]) < 1.0);  // poles inside
            const double dc = sr::sos_magnitude(sos, 0.0);
            REQUIRE(dc > 0.85);
            REQUIRE(dc < 1.0 + 1e-9);
            REQUIRE(sr::sos_magnitude(sos, 0.999) < 0.5);
          }
}
