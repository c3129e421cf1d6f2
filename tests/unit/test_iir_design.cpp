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
