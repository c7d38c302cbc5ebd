"""Errors: their classes (Error; FileError is an OSError, ArgumentError a ValueError), the
library's messages, parse positions, cancellation, and Ctrl-C (KeyboardInterrupt)."""
import _thread
import fcntl
import os
import platform
import threading
import time

import numpy as np
import pytest

import ndshard
from conftest import FIXTURES, same_bits


def test_classes():
    assert issubclass(ndshard.FileError, ndshard.Error) and issubclass(ndshard.FileError, OSError)
    assert issubclass(ndshard.ParseError, ndshard.FileError)
    assert issubclass(ndshard.ArgumentError, ndshard.Error)
    assert issubclass(ndshard.ArgumentError, ValueError)
    assert not issubclass(ndshard.ArgumentError, OSError)
    assert issubclass(ndshard.Cancelled, ndshard.Error)


def test_missing_directory(tmp_path):
    missing = tmp_path / "x.nds"
    with pytest.raises(ndshard.FileError) as e:
        ndshard.load(missing)
    assert str(e.value) == f"ndshard: cannot read '{missing}': no such directory"
    with pytest.raises(OSError):
        ndshard.inspect(missing)
    with pytest.raises(ndshard.Error):
        ndshard.verify(missing)
    (tmp_path / "empty.nds").mkdir()
    with pytest.raises(OSError, match="found an empty directory"):
        ndshard.load(tmp_path / "empty.nds")


def test_wrong_kind_points_the_way(tmp_path):
    np.save(tmp_path / "f.npy", np.zeros(3))
    with pytest.raises(ndshard.FileError, match=r"found a \.npy file \(read it with"):
        ndshard.load(tmp_path / "f.npy")
    ndshard.save(tmp_path / "d.nds", np.zeros(3))
    with pytest.raises(ndshard.FileError, match="found a dataset directory"):
        ndshard.read_npy(tmp_path / "d.nds")


@pytest.mark.parametrize("dtype", ["complex64", "float16", "U3", "object", "datetime64[s]",
                                   [("a", "i4")]])
def test_unsupported_dtypes(tmp_path, dtype):
    a = np.zeros(3, dtype=dtype)
    with pytest.raises(ndshard.ArgumentError, match="unsupported dtype") as e:
        ndshard.save(tmp_path / "d.nds", a)
    assert isinstance(e.value, ValueError)
    assert str(np.dtype(dtype)) in str(e.value)
    with pytest.raises(ValueError):
        ndshard.write_npy(tmp_path / "a.npy", a)
    with pytest.raises(ValueError):
        ndshard.read_text(tmp_path / "a.txt", dtype=dtype)
    assert not (tmp_path / "d.nds").exists()


def test_bad_arguments(tmp_path):
    a = np.zeros(3)
    with pytest.raises(ndshard.ArgumentError, match="unknown format 'parquet'"):
        ndshard.save(tmp_path / "d.nds", a, format="parquet")
    with pytest.raises(ndshard.ArgumentError, match="unknown codec 'lzma'"):
        ndshard.zarr.save(tmp_path / "a.zarr", a, codec="lzma")
    with pytest.raises(ValueError, match="unknown dtype"):
        ndshard.load(tmp_path / "d.nds", dtype="nonsense")
    with pytest.raises(ValueError, match="delimiter"):
        ndshard.write_text(tmp_path / "a.tsv", a, delimiter="ab")
    with pytest.raises(ValueError, match="precision"):
        ndshard.write_text(tmp_path / "a.tsv", a, precision=0)
    with pytest.raises(ValueError, match="attributes"):
        ndshard.save(tmp_path / "d.nds", a, attributes={"x": float("nan")})
    with pytest.raises(ValueError, match="shards"):
        ndshard.save(tmp_path / "d.nds", a, shards=-1)
    with pytest.raises(ndshard.ArgumentError, match="path"):
        ndshard.load(3.5)


def test_library_argument_errors_are_file_errors(tmp_path):
    ndshard.save(tmp_path / "d.nds", np.zeros((5, 2)))
    with pytest.raises(ndshard.FileError, match=r"row range \[first, last\)"):
        ndshard.load_rows(tmp_path / "d.nds", 3, 9)
    with pytest.raises(ndshard.FileError, match="expected rows of dtype"):
        ndshard.save(tmp_path / "d.nds", np.zeros((5, 2), dtype=np.float32))
        ndshard.append(tmp_path / "d.nds", np.zeros((1, 2), dtype=np.float64))


def test_parse_error_position(tmp_path):
    (tmp_path / "data.csv").write_text("1,2\n3,five\n")
    with pytest.raises(ndshard.ParseError) as e:
        ndshard.read_text(tmp_path / "data.csv")
    err = e.value
    assert isinstance(err, OSError) and isinstance(err, ndshard.FileError)
    assert (err.line, err.field, err.column) == (2, 2, 3)
    assert str(err) == (f"ndshard: cannot parse '{tmp_path / 'data.csv'}' line 2, field 2 "
                        "(byte 3): expected a number, found 'five'")
    (tmp_path / "ragged.tsv").write_text("1\t2\n3\n")
    with pytest.raises(ndshard.ParseError, match="ragged row") as e:
        ndshard.read_text(tmp_path / "ragged.tsv")
    assert e.value.line == 2
    (tmp_path / "big.txt").write_text("1e300\n")
    with pytest.raises(ndshard.ParseError, match="float32 can hold"):
        ndshard.read_text(tmp_path / "big.txt", dtype="float32")
    assert ndshard.read_text(tmp_path / "big.txt", dtype="float32",
                             overflow_to_infinity=True)[0, 0] == np.inf


def test_fixtures_errors():
    with pytest.raises(ndshard.FileError, match="magic"):
        ndshard.read_npy(FIXTURES / "bad_magic.npy")
    with pytest.raises(ndshard.FileError):
        ndshard.read_npy(FIXTURES / "truncated_data.npy")
    with pytest.raises(ndshard.FileError, match="complex|c8|<c"):
        ndshard.read_npy(FIXTURES / "complex.npy")


def test_progress_callable(tmp_path):
    calls = []
    a = np.zeros((1000, 10))
    prev = ndshard._ndshard._progress_interval_ms(0)
    try:
        ndshard.save(tmp_path / "d.nds", a, progress=lambda d, t: calls.append((d, t)))
        assert calls and calls[-1] == (a.nbytes, a.nbytes)
        calls.clear()
        b = ndshard.load(tmp_path / "d.nds", progress=lambda d, t: calls.append((d, t)))
        assert calls[-1] == (a.nbytes, a.nbytes) and b.shape == a.shape
        # False cancels: Cancelled, and the dataset stays as it was
        with pytest.raises(ndshard.Cancelled, match="cancelled by its progress callback"):
            ndshard.save(tmp_path / "d.nds", np.ones((1000, 10)), progress=lambda d, t: False)
        assert same_bits(ndshard.load(tmp_path / "d.nds"), a)

        # an exception in the callable propagates as itself, after a clean cancel
        def boom(d, t):
            raise LookupError("mine")
        with pytest.raises(LookupError, match="mine"):
            ndshard.save(tmp_path / "d.nds", np.ones((1000, 10)), progress=boom)
        assert same_bits(ndshard.load(tmp_path / "d.nds"), a)
        with pytest.raises(LookupError):
            ndshard.write_text(tmp_path / "t.tsv", a, progress=boom)
        assert not (tmp_path / "t.tsv").exists()
    finally:
        ndshard._ndshard._progress_interval_ms(prev)


def test_ctrl_c_during_save_keeps_the_old_dataset(tmp_path):
    """Ctrl-C as the interpreter sees it (interrupt_main from another thread, while the save
    runs without the GIL): the save cancels, KeyboardInterrupt is raised, nothing changes."""
    old = np.arange(100_000.0).reshape(1000, 100)
    ndshard.save(tmp_path / "d.nds", old, shards=4)
    before = ndshard.inspect(tmp_path / "d.nds")
    new = np.ones((20_000, 100))
    started = threading.Event()

    def interrupter():
        started.wait()
        _thread.interrupt_main()  # sets the SIGINT flag the binding checks with the GIL

    def progress(done, total):
        if not started.is_set():
            started.set()
            t.join()  # the signal is pending before the save goes on
        return True

    prev = ndshard._ndshard._progress_interval_ms(0)
    t = threading.Thread(target=interrupter)
    t.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            ndshard.save(tmp_path / "d.nds", new, shards=8, progress=progress)
    finally:
        ndshard._ndshard._progress_interval_ms(prev)
        t.join()
    assert ndshard.inspect(tmp_path / "d.nds") == before
    assert same_bits(ndshard.load(tmp_path / "d.nds"), old)
    listed = {s["path"] for s in before["shards"]} | {"manifest.json", ".ndshard.lock"}
    assert {p.name for p in (tmp_path / "d.nds").iterdir()} <= listed


def blocked_in_flock(tid):
    """Whether thread `tid` of this process is in the flock system call (x86_64: 73)."""
    with open(f"/proc/self/task/{tid}/syscall") as f:
        return f.read().split()[0] == "73"


@pytest.mark.skipif(platform.machine() != "x86_64", reason="reads x86_64 syscall numbers")
def test_ctrl_c_without_a_progress_callable(tmp_path):
    """No user callable: SIGINT arrives while the main thread is inside a load, without the
    GIL (held up by an exclusive flock on the dataset, as a save's cleanup holds it); the
    binding's own check raises KeyboardInterrupt once the load goes on."""
    a = np.arange(100_000.0)
    ndshard.save(tmp_path / "d.nds", a, shards=4)
    fd = os.open(tmp_path / "d.nds", os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    main = threading.get_native_id()
    seen = []

    def interrupter():
        while not blocked_in_flock(main):
            time.sleep(0.001)
        seen.append(True)  # Python code, run while the main thread is inside load: no GIL held
        _thread.interrupt_main()
        fcntl.flock(fd, fcntl.LOCK_UN)

    prev = ndshard._ndshard._progress_interval_ms(0)
    t = threading.Thread(target=interrupter)
    t.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            ndshard.load(tmp_path / "d.nds")
    finally:
        ndshard._ndshard._progress_interval_ms(prev)
        t.join()
        os.close(fd)
    assert seen == [True]
    assert same_bits(ndshard.load(tmp_path / "d.nds"), a)
