// JSON from files we do not control (weights headers, metadata values): nesting is bounded before
// the parser sees it, and error messages quote at most a short excerpt. A header nested 100,000
// deep used to crash every tool that loads a model (recursive printing in the error message).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace sr {

// Deepest nesting of arrays/objects the project's formats need is 3 (header -> entry -> shape).
constexpr int kMaxJsonDepth = 16;

// Nesting depth of the JSON text (arrays and objects, strings skipped); stops counting at
// `stop_after` so the scan is linear and never overflows.
int json_depth(const std::string& text, int stop_after = kMaxJsonDepth + 1);

// Parses `text`; throws sr::Error "<what>: ..." when it is not JSON or nests deeper than max_depth.
nlohmann::json parse_json_bounded(const std::string& text, const std::string& what,
                                  int max_depth = kMaxJsonDepth);

// The compact JSON text cut to max_chars (with "..." when cut): for error messages.
std::string json_excerpt(const nlohmann::json& j, size_t max_chars = 80);

}  // namespace sr
