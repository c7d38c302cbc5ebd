#!/usr/bin/python3
"""Python peers of ndshard for bench/compare/run.py: ONE operation per process run, one JSON line.

    peers.py --peer PEER --op OP --dtype f8|f4 --threads N --source SRC.npy
             [--input PATH | --output PATH] [--dry] [--no-check]

    numpy   savetxt FILE ('%.18e', tab) | loadtxt FILE | save FILE | load FILE     (one thread)
    recipe  write DIR: ProcessPoolExecutor(N), one numpy.savetxt shard per worker
            read FILE: count lines, one multiprocessing.Process per block running
                       numpy.loadtxt(skiprows=..., max_rows=...), results concatenated
    pandas  to_csv FILE (tab, no header or index) | read_csv FILE (tab, C parser defaults)
    zarr    write DIR: dask.array.from_array(...).to_zarr (zarr defaults: Blosc-LZ4), N threads
            read DIR:  dask.array.from_zarr(...).compute(), N threads
            verify DIR: compares a store with SRC (used by run.py to check the writer, not timed)

Writers load SRC before the clock starts; readers compare their result with SRC bit for bit
afterwards, 1 MiB at a time. --dry does everything but the operation: the memory baseline.
A peer whose module is missing prints {"skipped": "..."} and exits 0.

Besides wait4's figure for this process, the multi-process recipe reports its own peak
("self_maxrss_kib") and what each worker added beyond its size when it started
("children_extra_bytes"), because wait4 sees only the largest process of a tree, not their sum.
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np

DTYPES = {"f8": np.float64, "f4": np.float32}


def self_peak_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def split_rows(rows, n):
    return [(rows * i // n, rows * (i + 1) // n) for i in range(n) if rows * i // n < rows * (i + 1) // n]


def read_npy_header(f):
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    return shape, dtype, f.tell()


def count_mismatches(arr, source):
    """Values of `arr` (any 2-d array-like: ndarray, zarr array) whose bits differ from SRC's."""
    with open(source, "rb") as f:
        shape, dtype, offset = read_npy_header(f)
        if tuple(arr.shape) != tuple(shape):
            return max(int(np.prod(arr.shape)), int(np.prod(shape)))
        row_bytes = int(np.prod(shape[1:])) * dtype.itemsize
        step = max(1, (1 << 20) // max(row_bytes, 1))
        bits = np.uint64 if dtype.itemsize == 8 else np.uint32
        bad = 0
        for i in range(0, shape[0], step):
            j = min(shape[0], i + step)
            mine = np.ascontiguousarray(arr[i:j], dtype=dtype).view(bits)
            ref = np.frombuffer(os.pread(f.fileno(), (j - i) * row_bytes, offset + i * row_bytes), dtype=bits)
            bad += int(np.count_nonzero(mine.reshape(-1) != ref))
        return bad


# --- the classic recipe ------------------------------------------------------------------------

_worker_start_rss = 0


def _remember_start_rss():
    global _worker_start_rss
    _worker_start_rss = rss_bytes()


def _savetxt_shard(path, block):
    # the block arrived pickled: its copy is part of what this worker adds
    np.savetxt(path, block, fmt="%.18e", delimiter="\t")
    return self_peak_bytes() - _worker_start_rss


def _loadtxt_block(path, skip, rows, dtype, results, stats, index):
    start = rss_bytes()
    block = np.loadtxt(path, delimiter="\t", dtype=dtype, skiprows=skip, max_rows=rows)
    results.put((index, block))
    results.close()
    results.join_thread()  # pickled and sent: the peak is known now
    stats.put(self_peak_bytes() - start)


def count_lines(path):
    with open(path, "rb") as f:
        return sum(buf.count(b"\n") for buf in iter(lambda: f.read(1 << 20), b""))


def recipe_write(out, a, threads):
    from concurrent.futures import ProcessPoolExecutor

    os.makedirs(out)
    with ProcessPoolExecutor(max_workers=threads, initializer=_remember_start_rss) as pool:
        futures = [pool.submit(_savetxt_shard, os.path.join(out, "part-%05d.tsv" % i), a[first:last])
                   for i, (first, last) in enumerate(split_rows(a.shape[0], threads))]
        return None, sum(f.result() for f in futures)


def recipe_read(path, dtype, threads):
    import multiprocessing as mp

    blocks = split_rows(count_lines(path), threads)
    results, stats = mp.Queue(), mp.Queue()
    procs = [mp.Process(target=_loadtxt_block, args=(path, first, last - first, dtype, results, stats, i))
             for i, (first, last) in enumerate(blocks)]
    for p in procs:
        p.start()
    parts = dict(results.get() for _ in procs)
    a = np.concatenate([parts[i] for i in range(len(procs))])
    del parts
    extra = sum(stats.get() for _ in procs)
    for p in procs:
        p.join()
    return a, extra


# --- the peers ---------------------------------------------------------------------------------

def chunk_rows(shape, itemsize, threads):
    """Rows per dask/zarr chunk: about 8 MiB, and at least one chunk per thread."""
    row_bytes = int(np.prod(shape[1:])) * itemsize
    return max(1, min((8 << 20) // row_bytes, -(-shape[0] // threads)))


def make_peer(peer, op, args, dtype):
    """Returns (kind, setup, run): kind 'write' or 'read'; setup() imports what the peer needs and
    returns its state; run(state) is what the clock times (a reader returns its array)."""
    t = args.threads
    if peer == "numpy":
        ops = {
            "savetxt": ("write", lambda a: np.savetxt(args.output, a, fmt="%.18e", delimiter="\t")),
            "save": ("write", lambda a: np.save(args.output, a)),
            "loadtxt": ("read", lambda _: np.loadtxt(args.input, delimiter="\t", dtype=dtype)),
            "load": ("read", lambda _: np.load(args.input)),
        }
        kind, run = ops[op]
        return kind, lambda: None, run
    if peer == "recipe":
        if op == "write":
            return "write", lambda: None, lambda a: recipe_write(args.output, a, t)
        return "read", lambda: None, lambda _: recipe_read(args.input, dtype, t)
    if peer == "pandas":
        def setup():
            import pandas as pd
            return pd
        if op == "to_csv":
            # the DataFrame wraps the array without copying it: made before the clock
            return "write", setup, lambda df: df.to_csv(args.output, sep="\t", header=False, index=False)
        return "read", setup, lambda pd: pd.read_csv(args.input, sep="\t", header=None, dtype=dtype).to_numpy()
    if peer == "zarr":
        def setup():
            import dask
            import dask.array as da
            import zarr  # noqa: F401  (dask imports it lazily; import it before the clock)
            dask.config.set(scheduler="threads", num_workers=t)
            return da
        if op == "write":
            def write(state):
                da, a = state
                da.from_array(a, chunks=(chunk_rows(a.shape, a.itemsize, t),) + a.shape[1:]).to_zarr(args.output)
            return "write", setup, write
        if op == "read":
            return "read", setup, lambda da: da.from_zarr(args.input).compute()
        if op == "verify":
            def verify(_):
                import zarr
                return zarr.open(args.input, mode="r")
            return "read", setup, verify
    raise SystemExit("unknown --peer/--op %s %s" % (peer, op))


MODULES = {"pandas": ["pandas"], "zarr": ["dask", "zarr"]}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--peer", required=True)
    p.add_argument("--op", required=True)
    p.add_argument("--dtype", default="f8", choices=sorted(DTYPES))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--source")
    p.add_argument("--input")
    p.add_argument("--output")
    p.add_argument("--dry", action="store_true")
    p.add_argument("--no-check", action="store_true")
    args = p.parse_args()
    dtype = DTYPES[args.dtype]
    line = {"driver": args.peer, "op": args.op, "dtype": args.dtype, "threads": args.threads}

    def emit(**kw):
        line.update(kw)
        line["self_maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps(line), flush=True)

    import importlib.util
    missing = [m for m in MODULES.get(args.peer, []) if importlib.util.find_spec(m) is None]
    if missing:
        return emit(skipped="python module %s not installed" % ", ".join(missing))

    kind, setup, run = make_peer(args.peer, args.op, args, dtype)
    state = setup()
    if kind == "write":
        a = np.load(args.source)
        if args.peer == "pandas":
            state = state.DataFrame(a, copy=False)
        elif args.peer == "zarr":
            state = (state, a)
        else:
            state = a
    if args.dry:
        return emit(dry=True)
    t0 = time.perf_counter()
    got = run(state)
    seconds = time.perf_counter() - t0
    extra = {}
    if args.peer == "recipe":  # (array or None, what the workers added)
        got, extra["children_extra_bytes"] = got
    if kind == "write":
        return emit(seconds=seconds, values=int(a.size), mismatches=-1, **extra)
    mismatches = -1 if args.no_check else count_mismatches(got, args.source)
    emit(seconds=seconds, values=int(np.prod(got.shape)), mismatches=mismatches, **extra)


if __name__ == "__main__":
    sys.exit(main())
