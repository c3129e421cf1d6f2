#include "sr/io/json_limits.h"

#include "sr/error.h"

namespace sr {

int json_depth(const std::string& text, int stop_after) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest >= stop_after) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

nlohmann::json parse_json_bounded(const std::string& text, const std::string& what, int max_depth) {
  if (json_depth(text, max_depth + 1) > max_depth)
    fail(what, ": JSON nested deeper than ", max_depth, " levels");
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    std::string reason = e.what();  // quotes the offending token, which may be megabytes
    if (reason.size() > 160) reason = reason.substr(0, 160) + "...";
    fail(what, ": invalid JSON (", reason, ")");
  }
}

std::string json_excerpt(const nlohmann::json& j, size_t max_chars) {
  std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > max_chars) s = s.substr(0, max_chars) + "...";
  return s;
}

}  // namespace sr
