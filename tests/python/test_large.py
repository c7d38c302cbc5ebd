"""The GIL is released for the I/O, and loads do not copy: arrays of a few hundred MB, each
measured in a fresh interpreter (ctest label: python;large)."""
import os
import platform
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ndshard

MB = 1 << 20


# The peak RSS of a fresh interpreter from a point on: ru_maxrss would do, but a child's starts
# at its parent's (pytest's, which made the test data), so the peak is reset (clear_refs 5) and
# read as VmHWM
PEAK = """
def reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return peak()
def peak():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM"))
"""


def python(code, timeout=300):
    """Runs `code` in a fresh interpreter with this one's path; returns its stdout."""
    r = subprocess.run([sys.executable, "-c", PEAK + textwrap.dedent(code)], capture_output=True,
                       text=True, timeout=timeout, env=dict(os.environ))
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A 256 MB float64 dataset of 8 shards (written once for the module)."""
    d = tmp_path_factory.mktemp("big") / "big.nds"
    a = np.arange(32 * MB, dtype=np.float64).reshape(-1, 16)
    ndshard.save(d, a, shards=8, sync=False)
    return d, a.nbytes


@pytest.mark.skipif(platform.machine() != "x86_64", reason="reads x86_64 syscall numbers")
def test_a_thread_runs_python_while_a_load_is_blocked(big):
    """Deterministic: the load waits on the dataset's directory lock (held exclusively here);
    only another thread running Python releases it. With the GIL held by the load this would
    deadlock (the subprocess then times out and the test fails)."""
    d, _ = big
    out = python(f"""
        import fcntl, os, threading, time, ndshard
        fd = os.open({str(d)!r}, os.O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_EX)
        count, main = [0], threading.get_native_id()
        def blocked():
            with open(f"/proc/self/task/{{main}}/syscall") as f:
                return f.read().split()[0] == "73"  # flock (x86_64)
        def other():
            while not blocked():
                time.sleep(0.001)
            for _ in range(100000):  # Python bytecode while the main thread is in the load
                count[0] += 1
            fcntl.flock(fd, fcntl.LOCK_UN)
        t = threading.Thread(target=other)
        t.start()
        a = ndshard.load({str(d)!r})
        t.join()
        print(count[0], a.size)
    """, timeout=120)
    assert out.split()[0] == "100000"


def test_counter_advances_during_a_long_load(big):
    """The brief's form: a counting thread advances while the main thread loads 256 MB."""
    d, _ = big
    out = python(f"""
        import threading, ndshard
        count, stop = [0], threading.Event()
        def counter():
            while not stop.is_set():
                count[0] += 1
        t = threading.Thread(target=counter)
        t.start()
        while count[0] == 0:
            pass
        before = count[0]
        a = ndshard.load({str(d)!r})
        after = count[0]
        stop.set()
        t.join()
        print(before, after)
    """)
    before, after = map(int, out.split())
    assert after > before


def test_load_peak_memory_is_one_array(big):
    """No copy on the way out: the peak RSS of a load is about the array (< 1.3x + baseline)."""
    d, nbytes = big
    out = python(f"""
        import numpy, ndshard
        ndshard.inspect({str(d)!r})
        base = reset_peak()
        a = ndshard.load({str(d)!r})
        top = peak()
        assert type(a.base).__name__ == "PyCapsule" and not a.flags.owndata
        print(base, top, a.nbytes)
    """)
    base, peak, n = map(int, out.split())
    assert n == nbytes
    print(f"load peak: {(peak - base) / nbytes:.3f} x the array")
    assert peak - base < 1.3 * nbytes, (base, peak, nbytes)
    assert peak - base > 0.9 * nbytes  # it was measured (the array was touched)


def test_save_reads_the_array_in_place(tmp_path):
    """A C-contiguous array is written from its memory; a reversed view is evaluated in bounded
    row blocks: neither adds a copy of the array to the peak RSS."""
    out = python(f"""
        import numpy as np, ndshard
        a = np.ones((16 << 20, 2))  # 256 MB
        a[::3] = 2.0
        base = reset_peak()
        ndshard.save({str(tmp_path / "c.nds")!r}, a, sync=False)
        ndshard.save({str(tmp_path / "r.nds")!r}, a[::-1, ::-1], sync=False)
        ndshard.write_npy({str(tmp_path / "t.npy")!r}, a.T, sync=False)
        print(base, peak(), a.nbytes)
    """)
    base, peak, n = map(int, out.split())
    print(f"save peak: {(peak - base) / n:.3f} x the array")
    assert peak - base < 0.3 * n, (base, peak, n)
    r = ndshard.load_rows(tmp_path / "r.nds", 0, 3)
    assert r.shape == (3, 2)
    t = np.load(tmp_path / "t.npy", mmap_mode="r")
    assert t.shape == (2, 16 << 20)
