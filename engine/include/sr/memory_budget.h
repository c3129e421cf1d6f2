// One memory budget for every allocation whose size comes from a file or a flag (audio lengths,
// patch shapes, batch x patch length): checked before allocating, so a tiny hostile file cannot
// make a tool reserve gigabytes. The budget is SR_MEMORY_LIMIT (bytes, or with a K, M or G
// suffix) or, without it, half of the machine's physical memory.
#pragma once

#include <cstdint>
#include <string>

namespace sr {

uint64_t memory_budget_bytes();

// A size in bytes from `text` (digits, optionally with a K, M or G suffix: 1e3, 1e6, 1e9; "0"
// is zero); throws sr::Error naming `what` when it is not one.
uint64_t parse_byte_size(const char* text, const std::string& what);

// Throws sr::Error "<what> needs X GB, more than the memory budget of Y GB (...)" when `bytes`
// exceeds the budget.
void check_memory_budget(uint64_t bytes, const std::string& what);

// a * b * c in bytes, saturating at UINT64_MAX (sizes from files may overflow).
uint64_t product_bytes(uint64_t a, uint64_t b, uint64_t element_bytes);

}  // namespace sr
