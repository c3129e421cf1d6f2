// One error policy for the whole engine: the library throws sr::Error, only a CLI main catches.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace sr {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
inline void append(std::ostringstream&) {}
template <typename T, typename... Rest>
void append(std::ostringstream& os, const T& first, const Rest&... rest) {
  os << first;
  append(os, rest...);
}
}  // namespace detail

// Builds a message from any streamable pieces: sr::format("bad length ", n).
template <typename... Parts>
std::string format(const Parts&... parts) {
  std::ostringstream os;
  detail::append(os, parts...);
  return os.str();
}

// Errors about user input (files, flags) carry just the message: it is what the user reads.
template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  throw Error(format(parts...));
}

}  // namespace sr

// Internal invariants carry the expression, file and line so a bug report can point at code.
#define SR_CHECK(cond, ...)                                                                     \
  do {                                                                                          \
    if (!(cond))                                                                                \
      throw ::sr::Error(::sr::format(__VA_ARGS__, " [check '", #cond, "' failed at ", __FILE__, \
                                     ":", __LINE__, "]"));                                      \
  } while (0)
