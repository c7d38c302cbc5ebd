#!/usr/bin/python3
"""zarr-python through dask as the peer of ndshard_zarr_bench (bench/zarr_bench.cpp).

What it times is what a Python user writes:

    with dask.config.set(scheduler="threads", num_workers=T):
        dask.array.from_array(a, chunks=(chunk_rows,) + a.shape[1:]).to_zarr(store, compressor=C)
        b = dask.array.from_zarr(store).compute()

with C one of (the codecs and defaults of ndshard::zarr):
    none        None
    zstd        numcodecs.Zstd(level=1)
    blosc_lz4   numcodecs.Blosc(cname="lz4", clevel=5, shuffle=Blosc.SHUFFLE)
    blosc_zstd  numcodecs.Blosc(cname="zstd", clevel=5, shuffle=Blosc.SHUFFLE)
and `store` a plain path (dask maps it through fsspec, as it does for any string), or with
--store directory a zarr.DirectoryStore. With sync, the store's files and directory are fsynced
after to_zarr, on T threads, inside the clock (zarr-python itself never fsyncs; ndshard does).
A load is checked equal to the source after the clock.

Two ways to run it:

  zarr_peer.py SRC.npy --serve [--threads T] [--store fsspec|directory]
      ndshard_zarr_bench's way: one command a line on stdin, one JSON object a line on stdout, so
      the peer's runs interleave with ndshard's. The first line is {"ready": ..., "versions": ...}
      or {"unavailable": "why"}.
        save STORE CODEC CHUNK_ROWS SYNC(0|1)
            -> {"seconds", "cpu", "graph", "bytes"}   graph: from_array alone (dask hashes the
               array to name it), included in seconds; bytes: what the store holds on disk
        load STORE   -> {"seconds", "cpu", "ok"}
        check STORE  -> {"ok", "mismatches", "shape", "chunks", "dtype", "compressor"}: opens a
               store written by someone else (ndshard) with zarr-python and compares it with the
               source, untimed
        quit
      Errors answer {"error": "..."} and the peer goes on.

  zarr_peer.py [SRC.npy | --generate ref|int100|round2 --rows N --cols C]
               --codec CODEC --chunk-rows N [--reps R] [--threads T] [--dir D] [--sync]
      standalone: R saves and R loads (alternating), then one JSON object
      {"save": [seconds...], "load": [...], "bytes": ..., "ratio": ..., ...}.

"cpu" is user + system seconds of this process (dask's worker threads included).
"""
import argparse
import json
import os
import resource
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor

try:
    import numpy as np
    import dask
    import dask.array as da
    import numcodecs
    import zarr
except ImportError as e:  # the driver prints the reason and goes on without the peer
    print(json.dumps({"unavailable": str(e)}), flush=True)
    sys.exit(0)

CODECS = ("none", "zstd", "blosc_lz4", "blosc_zstd")


def compressor(name):
    if name == "none":
        return None
    if name == "zstd":
        return numcodecs.Zstd(level=1)
    if name == "blosc_lz4":
        return numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
    if name == "blosc_zstd":
        return numcodecs.Blosc(cname="zstd", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
    raise ValueError("unknown codec %r (expected one of %s)" % (name, ", ".join(CODECS)))


def cpu():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def store_files(path):
    out = []
    for root, _, files in os.walk(path):
        out.extend(os.path.join(root, f) for f in files)
    return out


def store_bytes(path):
    return sum(os.path.getsize(f) for f in store_files(path))


def fsync_path(path, flags=os.O_RDONLY):
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_store(path, threads):
    files = store_files(path)
    with ThreadPoolExecutor(max_workers=max(1, threads)) as ex:
        list(ex.map(fsync_path, files))
    fsync_path(path)  # the directory: the chunks' names
    fsync_path(os.path.dirname(os.path.abspath(path)) or ".")


def mapper(path, kind):
    return zarr.DirectoryStore(path) if kind == "directory" else path


def save(a, path, codec, chunk_rows, sync, threads, kind):
    if os.path.exists(path):
        shutil.rmtree(path)
    t0, c0 = time.perf_counter(), cpu()
    x = da.from_array(a, chunks=(chunk_rows,) + a.shape[1:])
    graph = time.perf_counter() - t0
    x.to_zarr(mapper(path, kind), compressor=compressor(codec))
    if sync:
        fsync_store(path, threads)
    seconds, cpu_seconds = time.perf_counter() - t0, cpu() - c0
    return {"seconds": seconds, "cpu": cpu_seconds, "graph": graph, "bytes": store_bytes(path)}


def same(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(
        a.view(np.uint8), b.view(np.uint8))


def load(a, path, kind):
    t0, c0 = time.perf_counter(), cpu()
    b = da.from_zarr(mapper(path, kind)).compute()
    seconds, cpu_seconds = time.perf_counter() - t0, cpu() - c0
    ok = same(a, b)
    del b
    return {"seconds": seconds, "cpu": cpu_seconds, "ok": ok}


def check(a, path):
    """Opens a store someone else wrote with plain zarr-python and compares it with the source."""
    z = zarr.open_array(path, mode="r")
    b = z[...]
    mismatches = -1
    if b.shape == a.shape and b.dtype == a.dtype:
        rows = a.reshape(a.shape[0], -1).view(np.uint8) if a.ndim else a.view(np.uint8)
        got = b.reshape(b.shape[0], -1).view(np.uint8) if b.ndim else b.view(np.uint8)
        mismatches = int(np.count_nonzero((rows != got).any(axis=-1)))
    comp = z.compressor.get_config() if z.compressor is not None else None
    return {"ok": mismatches == 0, "mismatches": mismatches, "shape": list(z.shape),
            "chunks": list(z.chunks), "dtype": z.dtype.str, "compressor": comp}


def generate(kind, rows, cols, seed=12345):
    rng = np.random.default_rng(seed)
    if kind == "ref":
        return rng.random((rows, cols))
    if kind == "int100":
        return rng.integers(0, 100, size=(rows, cols), dtype=np.int64)
    if kind == "round2":
        return np.round(rng.random((rows, cols)), 2)
    raise SystemExit("--generate expects ref, int100 or round2")


def versions():
    return {"zarr": zarr.__version__, "numcodecs": numcodecs.__version__,
            "dask": dask.__version__, "numpy": np.__version__,
            "python": sys.version.split()[0]}


def serve(a, args):
    print(json.dumps({"ready": True, "versions": versions(), "store": args.store}), flush=True)
    for line in sys.stdin:
        w = line.split()
        if not w or w[0] == "quit":
            break
        try:
            if w[0] == "save" and len(w) == 5:
                r = save(a, w[1], w[2], int(w[3]), w[4] == "1", args.threads, args.store)
            elif w[0] == "load" and len(w) == 2:
                r = load(a, w[1], args.store)
            elif w[0] == "check" and len(w) == 2:
                r = check(a, w[1])
            else:
                r = {"error": "bad command: " + line.strip()}
        except Exception as e:  # noqa: BLE001  the driver reports it and goes on
            r = {"error": "%s: %s" % (type(e).__name__, e)}
        print(json.dumps(r), flush=True)


def standalone(a, args):
    import tempfile
    base = args.dir or tempfile.mkdtemp(prefix="zarr_peer-", dir="/dev/shm" if os.path.isdir(
        "/dev/shm") else None)
    path = os.path.join(base, "peer.zarr")
    saves, loads, graph, nbytes = [], [], [], 0
    try:
        for _ in range(args.reps):
            s = save(a, path, args.codec, args.chunk_rows, args.sync, args.threads, args.store)
            saves.append(s["seconds"])
            graph.append(s["graph"])
            nbytes = s["bytes"]
            r = load(a, path, args.store)
            if not r["ok"]:
                raise SystemExit("zarr_peer: the store loaded different data")
            loads.append(r["seconds"])
    finally:
        shutil.rmtree(path, ignore_errors=True)
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)
    print(json.dumps({"codec": args.codec, "chunk_rows": args.chunk_rows, "threads": args.threads,
                      "sync": args.sync, "shape": list(a.shape), "dtype": a.dtype.str,
                      "raw_bytes": int(a.nbytes), "bytes": nbytes,
                      "ratio": a.nbytes / nbytes if nbytes else None,
                      "save": saves, "load": loads, "graph": graph, "versions": versions()}))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("source", nargs="?", help="the array as .npy")
    p.add_argument("--serve", action="store_true", help="line protocol for ndshard_zarr_bench")
    p.add_argument("--threads", type=int, default=2, help="dask workers (and fsync threads)")
    p.add_argument("--store", choices=("fsspec", "directory"), default="directory",
                   help="a path string (dask maps it with fsspec) or a zarr.DirectoryStore")
    p.add_argument("--generate", help="ref, int100 or round2 instead of SRC.npy")
    p.add_argument("--rows", type=int, default=1000000)
    p.add_argument("--cols", type=int, default=10)
    p.add_argument("--codec", default="none", choices=CODECS)
    p.add_argument("--chunk-rows", type=int, default=0, help="0: about 16 MiB of rows")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--dir", help="where the store goes (default: a temporary dir in /dev/shm)")
    p.add_argument("--sync", action="store_true", help="fsync the store inside the clock")
    args = p.parse_args()
    if args.threads < 1:
        args.threads = os.cpu_count() or 1
    if args.source:
        a = np.load(args.source)
    elif args.generate:
        a = generate(args.generate, args.rows, args.cols)
    else:
        p.error("give SRC.npy or --generate")
    dask.config.set(scheduler="threads", num_workers=args.threads)
    if args.serve:
        return serve(a, args)
    if args.chunk_rows <= 0:  # ndshard::zarr's default: about 16 MiB of whole rows
        row = a.nbytes // max(1, a.shape[0])
        args.chunk_rows = max(1, min(a.shape[0], (16 << 20) // max(1, row)))
    return standalone(a, args)


if __name__ == "__main__":
    main()
