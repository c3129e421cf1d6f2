// The hyper-parameter flags shared by the tools that create networks (sr-model init, sr-train).
#pragma once

#include <string>

#include "args.h"
#include "sr/model.h"

namespace sr::cli {

struct ModelFlags {
  std::string arch = "tfilm", filters, kernels, block_policy, subpixel_order, gate = "sigmoid",
              activation = "originals", dropout = "0.5";
  int layers = 4, bottleneck_filters = 512, bottleneck_kernel = 9, final_kernel = 9, ff_dim = 2048,
      attention_layers = 4, dropout_every = 0;

  // Registers the flags; the architecture flag is `arch_flag` (sr-train keeps the originals'
  // --model).
  void add_to(ArgParser& parser, const std::string& arch_flag, char arch_short);
  // The validated config; throws UsageError for inconsistent flags.
  ModelConfig config(int patch_length, int sample_rate, int ratio) const;
};

}  // namespace sr::cli
