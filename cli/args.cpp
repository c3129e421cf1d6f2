#include "args.h"

#include <unistd.h>
#include <algorithm>
#include <cctype>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <new>

#include "sr/backend.h"
#include "sr/io/atomic_file.h"

namespace sr::cli {

ArgParser::ArgParser(std::string program, std::string usage, std::string summary)
    : program_(std::move(program)), usage_(std::move(usage)), summary_(std::move(summary)) {
  options_.push_back({"help", 'h', "", "show this help and exit", "", {}, nullptr});
}

void ArgParser::positional(const std::string& name, const std::string& help, std::string* target) {
  positionals_.push_back({name, help, target});
}

void ArgParser::option(const std::string& long_name, char short_name, const std::string& metavar,
                       const std::string& help, std::string* target) {
  options_.push_back({long_name, short_name, metavar, help, *target,
                      [target](const std::string& v) { *target = v; }, nullptr});
}

void ArgParser::option(const std::string& long_name, char short_name, const std::string& metavar,
                       const std::string& help, int* target) {
  option(long_name, short_name, metavar, help, target, -(1L << 30), 1L << 30);
}

void ArgParser::option(const std::string& long_name, char short_name, const std::string& metavar,
                       const std::string& help, int* target, long lo, long hi) {
  std::string flag = "--" + long_name;
  options_.push_back(
      {long_name, short_name, metavar, help, std::to_string(*target),
       [target, flag, lo, hi](const std::string& v) { *target = parse_int(flag, v, lo, hi); },
       nullptr});
}

void ArgParser::positional_list(const std::string& name, const std::string& help,
                                std::vector<std::string>* target) {
  rest_ = target;
  rest_name_ = name;
  rest_help_ = help;
}

void ArgParser::flag(const std::string& long_name, char short_name, const std::string& help,
                     bool* target) {
  options_.push_back({long_name, short_name, "", help, "", {}, target});
}

const ArgParser::Option* ArgParser::find(const std::string& arg) const {
  for (const Option& o : options_) {
    if (arg == "--" + o.long_name) return &o;
    if (o.short_name && arg.size() == 2 && arg[0] == '-' && arg[1] == o.short_name) return &o;
  }
  return nullptr;
}

bool ArgParser::parse(int argc, char** argv) {
  size_t next_positional = 0;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_value = false;
    if (arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos) {
      value = arg.substr(arg.find('=') + 1);
      arg = arg.substr(0, arg.find('='));
      has_value = true;
    }
    if (arg.size() > 1 && arg[0] == '-' && !(arg.size() > 1 && std::isdigit(arg[1]))) {
      const Option* o = find(arg);
      if (!o) throw UsageError("unknown option " + arg + " (see --help)");
      if (o->long_name == "help") {
        std::cout << help();
        return false;
      }
      if (o->flag) {
        if (has_value) throw UsageError(arg + " takes no value");
        *o->flag = true;
        continue;
      }
      if (!has_value) {
        if (i + 1 >= argc) throw UsageError(arg + " needs a value (" + o->metavar + ")");
        value = argv[++i];
      }
      o->set(value);
      continue;
    }
    if (next_positional < positionals_.size()) {
      *positionals_[next_positional++].target = arg;
    } else if (rest_) {
      rest_->push_back(arg);
    } else {
      throw UsageError("unexpected argument '" + arg + "' (see --help)");
    }
  }
  if (next_positional < positionals_.size())
    throw UsageError("missing " + positionals_[next_positional].name + " (usage: " + usage_ + ")");
  return true;
}

std::string ArgParser::help() const {
  // One column width for every row: the longest "-x, --name METAVAR" plus two spaces.
  size_t width = 28;
  for (const Option& o : options_)
    width =
        std::max(width, 10 + o.long_name.size() + (o.metavar.empty() ? 0 : o.metavar.size() + 1));
  std::vector<Positional> shown = positionals_;
  if (rest_) shown.push_back({rest_name_, rest_help_, nullptr});
  for (const Positional& p : shown) width = std::max(width, p.name.size() + 4);
  std::string s = "usage: " + usage_ + "\n\n" + summary_ + "\n";
  if (!shown.empty()) {
    s += "\narguments:\n";
    for (const Positional& p : shown) {
      std::string left = "  " + p.name;
      left.resize(width, ' ');
      s += left + p.help + "\n";
    }
  }
  std::string header = "options:";
  header.resize(width, ' ');
  s += "\n" + header + "default\n";
  for (const Option& o : options_) {
    std::string left = "  ";
    left += o.short_name ? std::string("-") + o.short_name + ", " : "    ";
    left += "--" + o.long_name + (o.metavar.empty() ? "" : " " + o.metavar);
    left.resize(width, ' ');
    std::string def = o.set ? (o.default_text.empty() ? "-" : o.default_text) : "";
    def.resize(std::max<size_t>(def.size() + 2, 10), ' ');
    s += left + def + o.help + "\n";
  }
  if (!epilog_.empty()) s += "\n" + epilog_ + "\n";
  return s;
}

std::optional<double> parse_number(const std::string& text) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (used == 0 || used != text.size()) return std::nullopt;
  return v;
}

int parse_int(const std::string& flag, const std::string& text, long lo, long hi) {
  size_t used = 0;
  long v = 0;
  try {
    v = std::stol(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size())
    throw UsageError(flag + " expects an integer, got '" + text + "'");
  if (v < lo || v > hi)
    throw UsageError(flag + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                     "], got " + text);
  return static_cast<int>(v);
}

void apply_threads_flag(int threads) {
  const int cap = max_cpu_threads();
  if (threads < 0 || threads > cap)
    throw UsageError("--threads must be 0 (auto) to " + std::to_string(cap) +
                     " (4x the cores), got " + std::to_string(threads));
  set_cpu_threads(threads);
}

int run_main(const char* program, char** argv, const std::function<int()>& body) {
  // libgomp reads its wait policy once, at start-up, so it is set here and the process starts
  // again. With OpenBLAS's OpenMP build there is one thread pool: its workers spin briefly after
  // each region (GOMP_SPINCOUNT 30000, about 0.1 ms), which saves a futex wake-up per op, then
  // sleep. With OpenBLAS's own pthread pool the two pools would spin against each other, so
  // OpenMP's workers sleep at once (PASSIVE).
  if (!std::getenv("OMP_WAIT_POLICY") && !std::getenv("GOMP_SPINCOUNT")) {
    const bool one_pool = cpu_blas_uses_openmp();
    if (setenv(one_pool ? "GOMP_SPINCOUNT" : "OMP_WAIT_POLICY", one_pool ? "30000" : "PASSIVE",
               1) == 0)
      execv("/proc/self/exe", argv);  // returns only on failure: then run as we are
  }
  remove_temp_files_on_signals(program);
  try {
    return body();
  } catch (const UsageError& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 2;
  } catch (const Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "%s: error: out of memory\n", program);
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
    return 1;
  }
}

}  // namespace sr::cli
