#!/usr/bin/python3
"""numpy as a peer of ndshard_bench, run side by side in the same benchmark.

ndshard_bench starts this script once with the reference array as a .npy file, then sends one
command per line on stdin and reads one answer per line on stdout, so numpy's runs interleave with
ndshard's (the machine's noise hits both alike):

    save <path> <sync 0|1>   numpy.save of the array          -> "<seconds> <cpu> <extra bytes> ok"
    load <path>              numpy.load, checked to be equal  -> "<seconds> <cpu> <extra bytes> ok|bad"
    savetxt / loadtxt        the same with numpy.savetxt / numpy.loadtxt ('%.18e', tab or comma)
    quit

"cpu" is user + system seconds of the process. "extra bytes" is the peak resident memory beyond what the process held before the call (the
array it returns subtracted for a load), measured like ndshard_bench measures itself: reset the
peak with /proc/self/clear_refs, read VmHWM from /proc/self/status.
"""
import os
import resource
import sys
import time

try:
    import numpy as np
except ImportError as e:  # ndshard_bench prints the first line and skips the peer
    print("unavailable: %s" % e, flush=True)
    sys.exit(0)


def status_kib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def cpu():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def measure(op):
    can_reset = reset_peak()
    before = status_kib("VmRSS")
    t0, c0 = time.perf_counter(), cpu()
    result = op()
    seconds, cpu_seconds = time.perf_counter() - t0, cpu() - c0
    extra = (status_kib("VmHWM") - before) * 1024 if can_reset else -1
    return seconds, cpu_seconds, extra, result


def main():
    a = np.load(sys.argv[1])
    delim = "\t"
    print("ready numpy %s" % np.__version__, flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == "quit":
            break
        op, path = words[0], words[1]
        ok = "ok"
        if op in ("save", "savetxt"):
            sync = len(words) > 2 and words[2] == "1"
            delim = "," if path.endswith(".csv") else "\t"

            def write():
                with open(path, "wb") as f:
                    if op == "save":
                        np.save(f, a)
                    else:
                        np.savetxt(f, a.reshape(a.shape[0], -1), fmt="%.18e", delimiter=delim)
                    if sync:
                        f.flush()
                        os.fsync(f.fileno())

            seconds, cpu_seconds, extra, _ = measure(write)
        else:
            if op == "load":
                seconds, cpu_seconds, extra, b = measure(lambda: np.load(path))
            else:
                seconds, cpu_seconds, extra, b = measure(
                    lambda: np.loadtxt(path, dtype=a.dtype, delimiter=delim))
                b = b.reshape(a.shape)
            if extra >= 0:
                extra = max(0, extra - b.nbytes)
            if not np.array_equal(a, b):
                ok = "bad"
            del b
        print("%.9f %.9f %d %s" % (seconds, cpu_seconds, extra, ok), flush=True)


if __name__ == "__main__":
    main()
