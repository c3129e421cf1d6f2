// libFuzzer: model metadata (key=value lines) -> config -> graph, without a weights file, so the
// fuzzer reaches the hyper-parameter validation and the graph builder directly.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "sr/error.h"
#include "sr/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::map<std::string, std::string> metadata;
  const std::string text(reinterpret_cast<const char*>(data), size);
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    const size_t eq = line.find('=');
    if (eq != std::string::npos) metadata[line.substr(0, eq)] = line.substr(eq + 1);
    start = end + 1;
  }
  try {
    const sr::ModelConfig config = sr::config_from_metadata(metadata);
    sr::build_graph(config, 1, config.patch_length);
    sr::config_to_metadata(config);
  } catch (const sr::Error&) {
  }
  return 0;
}
