// Shared command-line handling: a small declarative parser with a generated --help, and the one
// place that turns exceptions into a one-line message and an exit code.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sr/error.h"

namespace sr::cli {

// Misuse of the command line: exit code 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

class ArgParser {
 public:
  ArgParser(std::string program, std::string usage, std::string summary);
  void positional(const std::string& name, const std::string& help, std::string* target);
  void option(const std::string& long_name, char short_name, const std::string& metavar,
              const std::string& help, std::string* target);
  void option(const std::string& long_name, char short_name, const std::string& metavar,
              const std::string& help, int* target);
  // An integer option that must lie in [lo, hi] (a UsageError naming the flag otherwise).
  void option(const std::string& long_name, char short_name, const std::string& metavar,
              const std::string& help, int* target, long lo, long hi);
  // Every positional argument after the fixed ones (e.g. FILE...); may stay empty.
  void positional_list(const std::string& name, const std::string& help,
                       std::vector<std::string>* target);
  void flag(const std::string& long_name, char short_name, const std::string& help, bool* target);
  void epilog(const std::string& text) { epilog_ = text; }
  // Returns false when --help was printed (the caller exits 0); throws UsageError otherwise.
  bool parse(int argc, char** argv);
  std::string help() const;

 private:
  struct Option {
    std::string long_name;
    char short_name;
    std::string metavar, help, default_text;
    std::function<void(const std::string&)> set;  // empty for flags
    bool* flag = nullptr;
  };
  struct Positional {
    std::string name, help;
    std::string* target;
  };
  const Option* find(const std::string& arg) const;
  std::string program_, usage_, summary_, epilog_;
  std::vector<Option> options_;
  std::vector<Positional> positionals_;
  std::vector<std::string>* rest_ = nullptr;
  std::string rest_name_, rest_help_;
};

// Runs a tool's body: sr::Error -> "program: error: message" and exit 1; UsageError -> exit 2.
// First, unless the user set OMP_WAIT_POLICY, re-executes the tool with it PASSIVE: idle OpenMP
// threads that spin steal the cores OpenBLAS's threads need, which made whole runs 2-4x slower
// (docs/BENCHMARKS.md). The OpenMP runtime reads the variable only at start-up, hence the re-exec.
int run_main(const char* program, char** argv, const std::function<int()>& body);

// The whole text as a number (std::stod), or nothing; range checks are the caller's.
std::optional<double> parse_number(const std::string& text);

// Integer in [lo, hi] or a UsageError naming the flag.
int parse_int(const std::string& flag, const std::string& text, long lo, long hi);

// --threads N: 0 (auto) to sr::max_cpu_threads(), else a UsageError; then sets the CPU threads.
void apply_threads_flag(int threads);

}  // namespace sr::cli
