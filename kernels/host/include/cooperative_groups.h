// Host execution (../host_exec.h): the grid and block groups of cooperative_groups. grid.sync()
// is a barrier of every thread of a cooperative launch (SR_LAUNCH_COOPERATIVE).
#pragma once

#include "cuda_runtime.h"

namespace cooperative_groups {

struct grid_group {
  void sync() const { sr::host::sync_grid(); }
};
struct thread_block {
  void sync() const { __syncthreads(); }
};
inline grid_group this_grid() {
  return {};
}
inline thread_block this_thread_block() {
  return {};
}

}  // namespace cooperative_groups
