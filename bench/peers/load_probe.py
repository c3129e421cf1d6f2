#!/usr/bin/python3
"""One line about the machine's load, for bench/run_cpu_peers.sh's log: the 1-min load average,
the CPU used over an interval by all processes and by the processes OUTSIDE a process group (the
benchmark's own group: what else ran), the three busiest of those, and how many are stopped.

    bench/peers/load_probe.py [--pgid N (default: this process's group)] [--interval 1.0]
    bench/peers/load_probe.py --sgemm 1024      # instead: the machine's speed now (numpy sgemm,
                                                # OPENBLAS_NUM_THREADS threads, best of 5)

Prints e.g.
  13:07:51 load1 6.14 busy 198% others 101% steal 0% stopped 0 | exe 61%, sr_tests 40%, cc1plus 0%
where 100% is one core (a 2-core machine reaches 200%); steal is the time the hypervisor ran
someone else on our virtual CPUs.
"""

import argparse
import os
import time

TICK = os.sysconf("SC_CLK_TCK")


def sample():
    """pid -> (pgid, comm, state, utime + stime ticks)."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                s = f.read()
        except OSError:
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        rest = s[s.rindex(")") + 2:].split()
        # rest[0] state, [2] pgrp, [11] utime, [12] stime (fields 3, 5, 14, 15 of proc(5))
        out[int(pid)] = (int(rest[2]), comm, rest[0], int(rest[11]) + int(rest[12]))
    return out


def cpu_times():
    """/proc/stat's aggregate line: (steal, all) ticks. Steal: time the hypervisor gave our
    virtual CPUs to someone else (a shared VM slows down without any process here using more)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[7] if len(v) > 7 else 0, sum(v[:8])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pgid", type=int, default=os.getpgrp())
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--sgemm", type=int, default=0, metavar="N",
                    help="print the GFLOP/s of an N^3 float32 matmul instead")
    args = ap.parse_args()
    if args.sgemm:
        import numpy as np
        n = args.sgemm
        a, b = np.ones((n, n), np.float32), np.ones((n, n), np.float32)
        best = float("inf")
        for _ in range(6):                          # the first warms up
            t0 = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t0)
        print("%s sgemm %d^3 %.0f GFLOP/s" % (time.strftime("%H:%M:%S", time.gmtime()), n,
                                              2.0 * n ** 3 / best / 1e9))
        return
    a, t0, (s0, all0) = sample(), time.monotonic(), cpu_times()
    time.sleep(args.interval)
    b, dt, (s1, all1) = sample(), time.monotonic() - t0, cpu_times()
    ncpu = os.cpu_count() or 1
    steal = 100.0 * ncpu * (s1 - s0) / max(all1 - all0, 1)   # % of one core, like the others
    total, others, by_comm = 0.0, 0.0, {}
    for pid, (pgid, comm, _, ticks) in b.items():
        # a process born during the interval counts all its ticks
        used = (ticks - (a[pid][3] if pid in a else 0)) / TICK / dt
        total += used
        if pgid != args.pgid:
            others += used
            by_comm[comm] = by_comm.get(comm, 0.0) + used
    stopped = sum(1 for v in b.values() if v[2] == "T")
    busiest = sorted(by_comm.items(), key=lambda kv: -kv[1])[:3]
    with open("/proc/loadavg") as f:
        load1 = f.read().split()[0]
    print("%s load1 %s busy %.0f%% others %.0f%% steal %.0f%% stopped %d | %s" % (
        time.strftime("%H:%M:%S", time.gmtime()), load1, 100 * total, 100 * others, steal, stopped,
        ", ".join("%s %.0f%%" % (c, 100 * u) for c, u in busiest)))


if __name__ == "__main__":
    main()
