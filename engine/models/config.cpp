// Model hyper-parameters: defaults of the originals and the metadata round trip.
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "sr/io/json_limits.h"

#include "sr/error.h"
#include "sr/model.h"

namespace sr {

namespace {

const char* kFormatName = "audio-sr-weights";
const char* kFormatVersion = "1";

const char* policy_name(BlockPolicy p) {
  return p == BlockPolicy::pt ? "pt" : "tf";
}
const char* order_name(SubpixelOrder o) {
  return o == SubpixelOrder::pt ? "pt" : "tf";
}
const char* filter_family_name(InputFilter::Family f) {
  return f == InputFilter::Family::varied ? "varied" : "cheby1";
}
const char* gate_name(GateActivation g) {
  return g == GateActivation::hard_sigmoid ? "hard_sigmoid" : "sigmoid";
}

// Shortest decimal text that reads back as the same float ("0.2", not "0.20000000298").
std::string short_float(float v) {
  char text[32];
  for (int digits = 6; digits <= 9; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, v);
    if (std::strtof(text, nullptr) == v) break;
  }
  return text;
}

template <typename T>
std::string list_json(const std::vector<T>& v) {
  return nlohmann::json(v).dump();
}

class MetadataReader {
 public:
  explicit MetadataReader(const std::map<std::string, std::string>& m) : m_(m) {}
  bool has(const std::string& key) const { return m_.count(key) != 0; }
  const std::string& str(const std::string& key) const {
    auto it = m_.find(key);
    if (it == m_.end()) fail("weights metadata lacks '", key, "'");
    return it->second;
  }
  long integer(const std::string& key, long lo, long hi) const {
    const std::string& s = str(key);
    size_t used = 0;
    long v = 0;
    try {
      v = std::stol(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != s.size() || v < lo || v > hi)
      fail("weights metadata '", key, "' = '", s, "' is not an integer in [", lo, ", ", hi, "]");
    return v;
  }
  // A finite number in [lo, hi] (NaN and infinities fail the range test).
  float real(const std::string& key, float lo, float hi) const {
    const std::string& s = str(key);
    size_t used = 0;
    float v = 0;
    try {
      v = std::stof(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != s.size()) fail("weights metadata '", key, "' = '", s, "' is not a number");
    if (!(v >= lo && v <= hi))
      fail("weights metadata '", key, "' = '", s, "' must be in [", lo, ", ", hi, "]");
    return v;
  }
  std::vector<int> int_list(const std::string& key, size_t n, int hi) const {
    nlohmann::json j = json_depth(str(key)) > 1 ? nlohmann::json()
                                                : nlohmann::json::parse(str(key), nullptr, false);
    bool ok = j.is_array() && j.size() == n;
    std::vector<int> v;
    if (ok)
      for (const auto& e : j) {
        if (!e.is_number_integer() || e.get<long>() < 1 || e.get<long>() > hi) ok = false;
        if (ok) v.push_back(e.get<int>());
      }
    if (!ok) fail("weights metadata '", key, "' must be a list of ", n, " positive integers");
    return v;
  }
  template <typename E>
  E choice(const std::string& key, std::initializer_list<std::pair<const char*, E>> options) const {
    const std::string& s = str(key);
    for (const auto& [name, value] : options)
      if (s == name) return value;
    fail("weights metadata '", key, "' has unknown value '", s, "'");
  }

 private:
  const std::map<std::string, std::string>& m_;
};

}  // namespace

const char* arch_name(Arch arch) {
  switch (arch) {
    case Arch::audiounet:
      return "audiounet";
    case Arch::tfilm:
      return "tfilm";
    case Arch::afilm:
      return "afilm";
  }
  return "?";
}

Arch parse_arch(const std::string& name) {
  for (Arch a : {Arch::audiounet, Arch::tfilm, Arch::afilm})
    if (name == arch_name(a)) return a;
  fail("unknown model architecture '", name, "' (expected audiounet, tfilm or afilm)");
}

ModelConfig default_config(Arch arch) {
  ModelConfig c;
  c.arch = arch;
  c.layers = 4;
  c.filters = {128, 256, 512, 512};
  c.kernels = {65, 33, 17, 9};
  c.bottleneck_filters = 512;
  c.bottleneck_kernel = 9;
  c.patch_length = 8192;
  if (arch == Arch::afilm) {  // the PyTorch port: per-level up blocks, interleaved subpixel
    c.block_policy = BlockPolicy::pt;
    c.subpixel_order = SubpixelOrder::pt;
  } else {  // the TF originals (K21)
    c.block_policy = BlockPolicy::tf;
    c.subpixel_order = SubpixelOrder::tf;
  }
  return c;
}

std::map<std::string, std::string> config_to_metadata(const ModelConfig& c) {
  std::map<std::string, std::string> m;
  m["format"] = kFormatName;
  m["format_version"] = kFormatVersion;
  m["arch"] = arch_name(c.arch);
  m["layers"] = std::to_string(c.layers);
  m["filters"] = list_json(c.filters);
  m["kernels"] = list_json(c.kernels);
  m["bottleneck_filters"] = std::to_string(c.bottleneck_filters);
  m["bottleneck_kernel"] = std::to_string(c.bottleneck_kernel);
  m["final_kernel"] = std::to_string(c.final_kernel);
  m["dilation"] = std::to_string(c.dilation);
  m["leaky_alpha"] = short_float(c.leaky_alpha);
  m["block_policy"] = policy_name(c.block_policy);
  m["base_block"] = std::to_string(c.base_block);
  m["subpixel_order"] = order_name(c.subpixel_order);
  m["patch_length"] = std::to_string(c.patch_length);
  m["sample_rate"] = std::to_string(c.sample_rate);
  m["ratio"] = std::to_string(c.ratio);
  m["input_filter"] = filter_family_name(c.input_filter.family);
  m["input_cutoff"] = short_float(c.input_filter.cutoff);
  m["generated_gain_db"] = short_float(c.generated_gain_db);
  if (c.input_filter.family == InputFilter::Family::cheby1) {
    m["input_filter_order"] = std::to_string(c.input_filter.order);
    m["input_filter_ripple_db"] = short_float(c.input_filter.ripple_db);
  }
  if (c.arch == Arch::tfilm) m["gate"] = gate_name(c.gate);
  // Written only when they differ from the originals, so older files read back unchanged.
  if (c.block_activation == ModelConfig::BlockActivation::prelu) m["block_activation"] = "prelu";
  if (c.block_dropout != 0.5f) m["block_dropout"] = short_float(c.block_dropout);
  if (c.dropout_every != 0) m["dropout_every"] = std::to_string(c.dropout_every);
  if (c.arch == Arch::afilm) {
    m["attention_layers"] = std::to_string(c.attention_layers);
    m["attention_heads"] = std::to_string(c.attention_heads);
    m["ff_dim"] = std::to_string(c.ff_dim);
    m["layer_norm_eps"] = short_float(c.layer_norm_eps);
  }
  return m;
}

ModelConfig config_from_metadata(const std::map<std::string, std::string>& metadata) {
  MetadataReader r(metadata);
  if (!r.has("format") || r.str("format") != kFormatName)
    fail("not an audio-sr weights file (metadata 'format' is not '", kFormatName,
         "'; convert other checkpoints with weights_tools/convert.py)");
  if (r.str("format_version") != kFormatVersion)
    fail("weights format version ", r.str("format_version"), " is not supported (this build reads ",
         kFormatVersion, ")");
  ModelConfig c;
  c.arch = parse_arch(r.str("arch"));
  c.layers = r.integer("layers", 1, 8);
  c.filters = r.int_list("filters", c.layers, 8192);
  c.kernels = r.int_list("kernels", c.layers, 1025);
  c.bottleneck_filters = r.integer("bottleneck_filters", 1, 8192);
  c.bottleneck_kernel = r.integer("bottleneck_kernel", 1, 1025);
  c.final_kernel = r.integer("final_kernel", 1, 1025);
  c.dilation = r.integer("dilation", 1, 64);
  c.leaky_alpha = r.real("leaky_alpha", 0.0f, 1.0f);
  c.block_policy =
      r.choice<BlockPolicy>("block_policy", {{"tf", BlockPolicy::tf}, {"pt", BlockPolicy::pt}});
  c.base_block = r.integer("base_block", 1, 1 << 20);
  c.subpixel_order = r.choice<SubpixelOrder>(
      "subpixel_order", {{"tf", SubpixelOrder::tf}, {"pt", SubpixelOrder::pt}});
  c.patch_length = r.integer("patch_length", 2, 1 << 24);
  c.sample_rate = r.integer("sample_rate", 0, 1000000);
  c.ratio = r.integer("ratio", 0, 64);
  if (c.arch == Arch::tfilm)
    c.gate = r.choice<GateActivation>("gate", {{"sigmoid", GateActivation::sigmoid},
                                               {"hard_sigmoid", GateActivation::hard_sigmoid}});
  if (c.arch == Arch::afilm) {
    c.attention_layers = r.integer("attention_layers", 1, 64);
    c.attention_heads = r.integer("attention_heads", 1, 1024);
    c.ff_dim = r.integer("ff_dim", 1, 1 << 16);
    c.layer_norm_eps = r.real("layer_norm_eps", 1e-12f, 1.0f);
  }
  if (r.has("block_activation"))
    c.block_activation = r.choice<ModelConfig::BlockActivation>(
        "block_activation", {{"originals", ModelConfig::BlockActivation::originals},
                             {"prelu", ModelConfig::BlockActivation::prelu}});
  if (r.has("block_dropout")) {
    c.block_dropout = r.real("block_dropout", 0.0f, 0.99f);
  }
  if (r.has("dropout_every")) c.dropout_every = r.integer("dropout_every", 0, 64);
  if (r.has("generated_gain_db")) {
    c.generated_gain_db = r.real("generated_gain_db", -120.0f, 0.0f);
  }
  if (r.has("input_filter")) {  // older files: decimate, the InputFilter defaults
    InputFilter& f = c.input_filter;
    f.family = r.choice<InputFilter::Family>(
        "input_filter",
        {{"cheby1", InputFilter::Family::cheby1}, {"varied", InputFilter::Family::varied}});
    f.cutoff = r.real("input_cutoff", 0.1f, 1.0f);  // of the low-rate Nyquist
    if (f.family == InputFilter::Family::cheby1) {
      f.order = r.integer("input_filter_order", 2, 16);
      if (f.order % 2 != 0) fail("weights metadata 'input_filter_order' must be even");
      f.ripple_db = r.real("input_filter_ripple_db", 0.001f, 3.0f);
      if (f.cutoff >= 1.0f) fail("weights metadata 'input_cutoff' must be below 1 for cheby1");
    }
  }
  for (int k : c.kernels)
    if (k % 2 == 0) fail("weights metadata: kernel sizes must be odd");
  if (c.bottleneck_kernel % 2 == 0 || c.final_kernel % 2 == 0)
    fail("weights metadata: kernel sizes must be odd");
  check_input_length(c, c.patch_length);
  return c;
}

}  // namespace sr
