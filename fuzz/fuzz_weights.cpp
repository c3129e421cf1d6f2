// libFuzzer: the weights loader, then metadata -> config -> graph -> weight check, as every tool
// that loads a model does. Anything but sr::Error (a crash, a sanitizer report, another
// exception) is a finding.
#include <cstddef>
#include <cstdint>

#include "fuzz_input_file.h"
#include "sr/error.h"
#include "sr/model.h"
#include "sr/weights.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const sr::fuzz::InputFile file(data, size, ".safetensors");
  try {
    const sr::WeightFile weights = sr::load_weights(file.path());
    const sr::ModelConfig config = sr::config_from_metadata(weights.metadata);
    const sr::Graph graph = sr::build_graph(config, 1, config.patch_length);
    sr::check_weights_match(weights, graph.weights());
  } catch (const sr::Error&) {
  }
  return 0;
}
