#!/bin/sh
# Measures FFTW plans for the CPU FFT convolution's per-segment transforms on this machine class and
# writes engine/cpu/fftw_wisdom.inc, the wisdom every build ships (engine/cpu/conv1d_fft.cpp: plans
# come from it when it holds the problem, else are estimated, so every run plans the same and gives
# the same bits). Covers what the benchmarks and the tools run: the bundled models at batch 1 and 4
# (sr-infer's CPU batch), the default TFiLM and AFiLM at batch 1 and 4, and a training step of the
# bundled configuration at batch 16 x 2048. Run on a quiet machine after building, then rebuild.
#
#   scripts/make_fftw_wisdom.sh [THREADS]     # default 2
set -eu
cd "$(dirname "$0")/.."
THREADS=${1:-2}
W=$(mktemp)
trap 'rm -f "$W"' EXIT
export SR_FFTW_LEARN="$W" OMP_WAIT_POLICY=PASSIVE
B=build/bin
for model in models/speech_r2.safetensors models/speech_r4.safetensors models/speech_r8.safetensors; do
  for batch in 1 4; do
    $B/bench_cpu_forward --model "$model" --batch $batch --threads "$THREADS" --repeat 1 > /dev/null
  done
done
for arch in tfilm afilm; do
  for batch in 1 4; do
    $B/bench_cpu_forward --arch $arch --batch $batch --threads "$THREADS" --repeat 1 > /dev/null
  done
done
$B/bench_train_throughput --threads "$THREADS" --warmup 0 --steps 1 > /dev/null
{
  echo '// FFTW wisdom for conv1d_fft'"'"'s per-segment plans, measured by scripts/make_fftw_wisdom.sh'
  echo "// ($(fftwf-wisdom -V 2>/dev/null | head -1 || echo FFTW), $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(date -u +%Y-%m-%d))."
  echo 'R"FFTW_WISDOM('
  cat "$W"
  echo ')FFTW_WISDOM"'
} > engine/cpu/fftw_wisdom.inc
echo "engine/cpu/fftw_wisdom.inc: $(grep -c '^ *(' "$W" || true) entries"
