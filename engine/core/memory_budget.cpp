#include "sr/memory_budget.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <limits>

#include "sr/error.h"

namespace sr {
namespace {

std::string gigabytes(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f GB", bytes / 1e9);
  return text;
}

}  // namespace

uint64_t parse_byte_size(const char* text, const std::string& what) {
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  if (end == text) fail(what, "='", text, "' is not a size (bytes, or a number with K, M or G)");
  double scale = 1;
  if (*end == 'K' || *end == 'k')
    scale = 1e3, ++end;
  else if (*end == 'M' || *end == 'm')
    scale = 1e6, ++end;
  else if (*end == 'G' || *end == 'g')
    scale = 1e9, ++end;
  if (*end != '\0' || !(v >= 0) || v * scale > 1e18)
    fail(what, "='", text, "' is not a size (bytes, or a number with K, M or G)");
  return static_cast<uint64_t>(v * scale);
}

uint64_t memory_budget_bytes() {
  const char* env = std::getenv("SR_MEMORY_LIMIT");
  if (env && *env) {  // empty: as if unset
    const uint64_t bytes = parse_byte_size(env, "SR_MEMORY_LIMIT");
    if (bytes == 0) fail("SR_MEMORY_LIMIT='", env, "' is not a size (it must be above 0)");
    return bytes;
  }
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return uint64_t{4} << 30;  // unknown: 4 GiB
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) / 2;
}

void check_memory_budget(uint64_t bytes, const std::string& what) {
  const uint64_t budget = memory_budget_bytes();
  if (bytes > budget)
    fail(what, " needs ",
         bytes == std::numeric_limits<uint64_t>::max() ? "more than 10^19 bytes" : gigabytes(bytes),
         ", more than the memory budget of ", gigabytes(budget),
         " (half the physical memory; SR_MEMORY_LIMIT sets it)");
}

uint64_t product_bytes(uint64_t a, uint64_t b, uint64_t element_bytes) {
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  if (a && b > max / a) return max;
  const uint64_t ab = a * b;
  if (ab && element_bytes > max / ab) return max;
  return ab * element_bytes;
}

}  // namespace sr
