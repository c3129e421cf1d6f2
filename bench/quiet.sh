#!/usr/bin/env bash
# bench/quiet.sh CMD...: runs CMD with this machine's background work (trainings, the quality
# harness, corpus preparation) stopped (SIGSTOP), and continues it afterwards (SIGCONT, also on
# error or interrupt), so that timings on a 2-core machine are not shared with a training run.
# The benchmarks' PAUSE (bench/run_cpu_peers.sh) and the docs' "under quiet.sh" mean this script
# (earlier sessions kept a copy at /work/tools/quiet.sh). QUIET_PATTERN: the processes to stop
# (a pgrep -f pattern); the script's own ancestors are never stopped.
pat=${QUIET_PATTERN:-'sr-train|sr-infer-eval|bench/quality/|prep_train_corpus|make_refs|fetch_corpus|dpkg-deb|pesq'}
self=$$
pids=$(pgrep -f -- "$pat" | grep -vx "$self" | tr '\n' ' ')
# never stop our own ancestors
anc=" $self "; p=$self
while [ "$p" -gt 1 ]; do p=$(ps -o ppid= -p "$p" | tr -d ' '); anc="$anc$p "; done
stop=""
for p in $pids; do case "$anc" in *" $p "*) ;; *) stop="$stop $p";; esac; done
cont() { [ -n "$stop" ] && kill -CONT $stop 2>/dev/null; }
trap cont EXIT INT TERM
[ -n "$stop" ] && kill -STOP $stop 2>/dev/null
"$@"
