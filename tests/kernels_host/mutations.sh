#!/usr/bin/env bash
# Mutation check of the host execution: injects bugs into the kernels (one at a time, into a copy
# of the kernel file) -- the six a review injected into kernels/conv1d_mma.cu (the TF32 rounding
# one now on the ldmatrix-loaded A), four into its ldmatrix/mma.sync fragments (a wrong lane row
# address, a missing .trans, swapped fragment registers in BF16 and in TF32), and nine more into
# the exact FP32 tiles, the thin kernel, the LSTM step and persistent kernels, attention, layer
# norm, the dense bias and a layout kernel -- rebuilds the host-executed test against the mutant
# and requires the mutated kernel's cases to fail for the expected reason:
#   comparison  a REQUIRE fails (wrong values, or NaN from unlanded cp.async copies)
#   tsan        ThreadSanitizer reports a data race
#   asan        AddressSanitizer reports an out-of-bounds access
# The unmutated kernels pass the "[mutation]" case in every variant (the control). Usage:
#   tests/kernels_host/mutations.sh BUILD_DIR
# BUILD_DIR is a CMake build (Makefile generator) with sr_kernel_host_tests and its sanitizer
# variants built: the mutant is compiled with the target's flags (flags.make) and linked with its
# link line (link.txt), the mutated object in place of the kernel file's.
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dir=$build/tests/kernels_host

# build_mutant TARGET KERNEL FILE: the test executable TARGET with FILE in place of kernels/KERNEL
# -> $work/mutant.
build_mutant() {
  local target=$1 kernel=$2 file=$3 cmake_dir=CMakeFiles/$1.dir
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
  link=${link/"$cmake_dir/host_$kernel.cpp.o"/"$work/mutant.o"}
  link=${link/"-o ../../bin/$target"/"-o $work/mutant"}
  [[ $link == *"$work/mutant.o"* && $link == *"-o $work/mutant "* ]] || {
    echo "mutations.sh: unexpected link line in $dir/$cmake_dir/link.txt" >&2
    exit 2
  }
  (cd "$dir" && eval "$link")
}

# run_case EXE FILTER: runs the Catch cases FILTER selects; prints how they ended (pass,
# comparison, tsan, asan, other).
run_case() {
  local out rc=0
  out=$(TSAN_OPTIONS="halt_on_error=1 exitcode=66" ASAN_OPTIONS="halt_on_error=1" \
    UBSAN_OPTIONS="halt_on_error=1" timeout 300 "$1" "$2" 2>&1) || rc=$?
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
# mutate KERNEL FILTER NAME EXPECTED OLD NEW: OLD must occur exactly once in kernels/KERNEL; the
# cases FILTER selects must end as EXPECTED.
mutate() {
  local kernel=$1 filter=$2 name=$3 expected=$4 old=$5 new=$6 text
  text=$(<"$src/kernels/$kernel")
  local rest=${text//"$old"/}
  if (((${#text} - ${#rest}) != ${#old})); then
    echo "mutations.sh: '$old' does not occur once in kernels/$kernel (update the mutation)" >&2
    exit 2
  fi
  printf '%s\n' "${text/"$old"/"$new"}" >"$work/$kernel"
  build_mutant "$(variant_target "$expected")" "$kernel" "$work/$kernel"
  local got
  got=$(run_case "$work/mutant" "$filter")
  if [[ $got == "$expected" ]]; then
    printf 'caught  %-40s by %s\n' "$name" "$got"
  else
    printf 'MISSED  %-40s expected %s, got %s\n' "$name" "$expected" "$got"
    failures=$((failures + 1))
  fi
}

for expected in comparison tsan asan; do
  got=$(run_case "$build/bin/$(variant_target "$expected")" "[mutation]")
  printf 'control %-40s %s\n' "unmutated kernel ($expected build)" "$got"
  [[ $got == pass ]] || failures=$((failures + 1))
done

mma="conv1d_mma.cu [mutation]"
# shellcheck disable=SC2086  # $mma is two arguments
{
  mutate $mma "cp.async waits for one group too few" comparison \
    'cp_async_wait<mt::kStages - 2>();' 'cp_async_wait<mt::kStages - 1>();'
  mutate $mma "next k-tile loaded into the wrong stage" comparison \
    'load_tile(kt_begin + next, next % mt::kStages);' \
    'load_tile(kt_begin + next, (next + 1) % mt::kStages);'
  mutate $mma "TF32 rounding of A removed" comparison \
    'a[f][i] = tf32_rna(__uint_as_float(a[f][i]));' 'a[f][i] = a[f][i];'
  mutate $mma "ldmatrix: lanes 8-15 give rows 0-7" comparison \
    'ldmatrix_x4<false>(a, tile + (lane % 16) * ld + (lane / 16) * 4, 16 * ld);' \
    'ldmatrix_x4<false>(a, tile + (lane % 8) * ld + (lane / 16) * 4, 16 * ld);'
  mutate $mma "BF16 B: ldmatrix without .trans" comparison \
    'ldmatrix_x4<true>(r,' 'ldmatrix_x4<false>(r,'
  mutate $mma "BF16 B: fragment registers 1 and 2 swapped" comparison \
    'b[2 * jj][1] = r[jj][1];
      b[2 * jj + 1][0] = r[jj][2];' 'b[2 * jj][1] = r[jj][2];
      b[2 * jj + 1][0] = r[jj][1];'
  mutate $mma "TF32 B: fragment registers swapped" comparison \
    'b[j][0] = tf32_rna(p[8 * j]);
      b[j][1] = tf32_rna(p[4 * ld + 8 * j]);' 'b[j][1] = tf32_rna(p[8 * j]);
      b[j][0] = tf32_rna(p[4 * ld + 8 * j]);'
  mutate $mma "__syncthreads of the pipeline removed" tsan \
    '    __syncthreads();                   // everyone' '    // everyone'
  mutate $mma "__syncwarp after the staging store removed" tsan \
    '      __syncwarp();
      const int n = n0' '      const int n = n0'
  mutate $mma "weight tile read one chunk past Cout" asan \
    'const bool ok = n < g.Cout;' 'const bool ok = n <= g.Cout;'
}
mutate conv1d.cu "[mutation]" "FP32 tiles: end-of-k-tile barrier removed" tsan \
  '    if (more) store(buf ^ 1);
    __syncthreads();' '    if (more) store(buf ^ 1);'
mutate conv1d.cu "[fused]" "thin kernel: pool pair's second row skipped" comparison \
  'thin_partial(x, w, g, m + pass, lane, acc);' 'thin_partial(x, w, g, m, lane, acc);'
mutate lstm.cu "[lstm]" "LSTM step: barrier before the gate math removed" tsan \
  '  __syncthreads();

  const int bb = tid / kStepUnits' '  const int bb = tid / kStepUnits'
mutate lstm.cu "[lstm]" "LSTM step: output gate in the cell update" comparison \
  'fg * c_prev + ig * gg' 'fg * c_prev + og * gg'
mutate lstm.cu "[lstm]" "LSTM persistent: grid barrier between steps removed" tsan \
  '    if (n + 1 < N) grid.sync();' ''
mutate attention.cu "[attention]" "attention: scores not scaled" comparison \
  's += (qi[t] * scale) * kj[t]' 's += qi[t] * kj[t]'
mutate attention.cu "[layer_norm]" "layer_norm: mean over D + 1" comparison \
  'warp_sum(s) / static_cast<double>(D)' 'warp_sum(s) / static_cast<double>(D + 1)'
mutate elementwise.cu "[linear]" "dense bias indexed by row" comparison \
  'y[i] + bias[i % cols]' 'y[i] + bias[i / cols % cols]'
mutate layout.cu "[layout]" "modulate: wrong block of the modulation" comparison \
  'N + t / S) * C + c]' 'N + t % S) * C + c]'

if ((failures > 0)); then
  echo "mutations.sh: $failures check(s) failed" >&2
  exit 1
fi
echo "mutations.sh: every injected bug was caught"
