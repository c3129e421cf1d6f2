// A Backend whose ops are the CUDA backend's own launchers (kernels/*.cu compiled with
// SR_HOST_EXEC), run by the host execution (kernels/host/host_exec.h) on host memory: the tests of
// tests/gpu run against it with gpu_test::run_op, like against the device backend. No graph
// capture: run() launches every node in order, as the device backend's eager first run does.
#pragma once

#include <memory>
#include <string>

#include "sr/backend.h"

namespace sr::kernel_host {

std::unique_ptr<Backend> make_host_cuda_backend(Precision precision);

// The CPU backend as the reference, single-threaded: ThreadSanitizer cannot see the
// synchronisation inside the uninstrumented OpenMP and OpenBLAS, so results their threads wrote
// would look racy to the instrumented test.
std::unique_ptr<Backend> make_reference_backend();

// The recurrence kernel lstm.cu picks for batch B and H units at the current SM count
// ("persistent" or "step").
std::string lstm_path(int64_t B, int64_t H);

// The kernel conv1d.cu picks for this call in `precision` ("mma tf32 split-k 9", ...).
std::string conv1d_path(const OpCall& call, Precision precision);

}  // namespace sr::kernel_host
