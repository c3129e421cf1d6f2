// Small helpers shared by the CPU benchmarks: wall and CPU time, medians, peak memory.
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sr/error.h"

namespace sr::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// User + system CPU seconds of this process (all threads).
inline double process_cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

inline double peak_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

// Adds the peak memory to a run's JSON and writes it to `path` (nothing when `path` is empty).
inline void finish_json(nlohmann::json& j, const std::string& path) {
  j["peak_rss_mib"] = peak_rss_mib();
  if (path.empty()) return;
  std::ofstream f(path);
  if (!f) fail("cannot write ", path);
  f << j.dump(2) << "\n";
}

}  // namespace sr::bench
