#!/usr/bin/env bash
# Mutation check of the host execution: injects six bugs into kernels/conv1d_mma.cu (one at a
# time, into a copy), rebuilds the host-executed test against the mutant and requires the
# "[mutation]" conv1d case to fail for the expected reason:
#   comparison  a REQUIRE fails (wrong values, or NaN from unlanded cp.async copies)
#   tsan        ThreadSanitizer reports a data race
#   asan        AddressSanitizer reports an out-of-bounds access
# The unmutated kernel passes the same case in every variant (the control). Usage:
#   tests/kernels_host/mutations.sh BUILD_DIR
# BUILD_DIR is a CMake build (Makefile generator) with sr_kernel_host_tests and its sanitizer
# variants built: the mutant is compiled with the target's flags (flags.make) and linked with its
# link line (link.txt), the mutated object in place of conv1d_mma's.
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
kernel=$src/kernels/conv1d_mma.cu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dir=$build/tests/kernels_host

# build_mutant TARGET FILE: the test executable TARGET with FILE as conv1d_mma.cu -> $work/mutant.
build_mutant() {
  local target=$1 file=$2 cmake_dir=CMakeFiles/$1.dir
  local flags defines includes
  defines=$(sed -n 's/^CXX_DEFINES = //p' "$dir/$cmake_dir/flags.make")
  includes=$(sed -n 's/^CXX_INCLUDES = //p' "$dir/$cmake_dir/flags.make")
  flags=$(sed -n 's/^CXX_FLAGS = //p' "$dir/$cmake_dir/flags.make")
  printf '#include "%s"\n' "$file" >"$work/wrapper.cpp"
  local link
  link=$(<"$dir/$cmake_dir/link.txt")
  local compiler=${link%% *}
  # shellcheck disable=SC2086  # flag lists split on purpose
  (cd "$dir" && $compiler $defines $includes $flags -c "$work/wrapper.cpp" -o "$work/mutant.o")
  link=${link/"$cmake_dir/host_conv1d_mma.cu.cpp.o"/"$work/mutant.o"}
  link=${link/"-o ../../bin/$target"/"-o $work/mutant"}
  [[ $link == *"$work/mutant.o"* && $link == *"-o $work/mutant "* ]] || {
    echo "mutations.sh: unexpected link line in $dir/$cmake_dir/link.txt" >&2
    exit 2
  }
  (cd "$dir" && eval "$link")
}

# run_case EXE: runs the mutation case; prints how it ended (pass, comparison, tsan, asan, other).
run_case() {
  local out rc=0
  out=$(TSAN_OPTIONS="halt_on_error=1 exitcode=66" ASAN_OPTIONS="halt_on_error=1" \
    UBSAN_OPTIONS="halt_on_error=1" timeout 300 "$1" "[mutation]" 2>&1) || rc=$?
  if ((rc == 0)) && [[ $out == *"All tests passed"* ]]; then
    echo pass
  elif [[ $out == *"WARNING: ThreadSanitizer: data race"* ]]; then
    echo tsan
  elif [[ $out == *"ERROR: AddressSanitizer"* ]]; then
    echo asan
  elif [[ $out == *"FAILED:"* ]]; then
    echo comparison
  else
    echo "other (exit $rc): $(tail -3 <<<"$out" | tr '\n' ' ')"
  fi
}

variant_target() {
  case $1 in
    comparison) echo sr_kernel_host_tests ;;
    tsan) echo sr_kernel_host_tests_tsan ;;
    asan) echo sr_kernel_host_tests_asan ;;
  esac
}

failures=0
# mutate NAME EXPECTED OLD NEW: OLD must occur exactly once in the kernel.
mutate() {
  local name=$1 expected=$2 old=$3 new=$4 text
  text=$(<"$kernel")
  local rest=${text//"$old"/}
  if (((${#text} - ${#rest}) != ${#old})); then
    echo "mutations.sh: '$old' does not occur exactly once in $kernel (update the mutation)" >&2
    exit 2
  fi
  printf '%s\n' "${text/"$old"/"$new"}" >"$work/conv1d_mma.cu"
  build_mutant "$(variant_target "$expected")" "$work/conv1d_mma.cu"
  local got
  got=$(run_case "$work/mutant")
  if [[ $got == "$expected" ]]; then
    printf 'caught  %-40s by %s\n' "$name" "$got"
  else
    printf 'MISSED  %-40s expected %s, got %s\n' "$name" "$expected" "$got"
    failures=$((failures + 1))
  fi
}

for expected in comparison tsan asan; do
  got=$(run_case "$build/bin/$(variant_target "$expected")")
  printf 'control %-40s %s\n' "unmutated kernel ($expected build)" "$got"
  [[ $got == pass ]] || failures=$((failures + 1))
done

mutate "cp.async waits for one group too few" comparison \
  'cp_async_wait<mt::kStages - 2>();' 'cp_async_wait<mt::kStages - 1>();'
mutate "next k-tile loaded into the wrong stage" comparison \
  'load_tile(kt_begin + next, next % mt::kStages);' \
  'load_tile(kt_begin + next, (next + 1) % mt::kStages);'
mutate "TF32 rounding removed" comparison \
  'f.x[t] = wmma::__float_to_tf32(f.x[t]);' 'f.x[t] = f.x[t];'
mutate "__syncthreads of the pipeline removed" tsan \
  '    __syncthreads();                   // everyone' '    // everyone'
mutate "__syncwarp after the staging store removed" tsan \
  '      __syncwarp();
      const int n = n0' '      const int n = n0'
mutate "weight tile read one chunk past Cout" asan \
  'const bool ok = n < g.Cout;' 'const bool ok = n <= g.Cout;'

if ((failures > 0)); then
  echo "mutations.sh: $failures check(s) failed" >&2
  exit 1
fi
echo "mutations.sh: every injected bug was caught"
