#!/usr/bin/python3
"""Interop between ndshard's zarr v2 stores and zarr-python / numcodecs / dask.

    /usr/bin/python3 tests/zarr/interop.py TOOL WORKDIR

TOOL is tests/zarr_tool.cpp built (linked with ndshard::zarr, so every codec is there); WORKDIR
is a scratch directory (its a/, b/ and c/ subdirectories are removed and made again).

  a. ndshard writes, zarr-python and dask read: every dtype (NaN payloads, infinities, -0.0,
     subnormals, integer extremes), ranks 1-3, every codec, chunk rows that leave a partial edge
     chunk and the default; the .zarray's fields; the chunk files present and nothing left beside
     the store; saving over a store; arrays without elements and of rank 0.
  b. zarr-python (and dask.to_zarr) writes, ndshard reads (load, rows, stream): zarr's default
     chunks, 1-D, 2-D, 3-D and nested ('/') chunk grids that do not divide the shape, every
     compressor numcodecs has that ndshard reads (Blosc: every cname and shuffle), every dtype and
     big-endian ones, missing chunks read as fill_value, .zarray variations, sparse stores far
     larger than memory, order 'F' (read, or refused naming 'order').
  c. What ndshard must refuse with an ndshard error (exit 1) naming the store: filters, dtypes and
     compressors it does not read (naming the field), corrupt chunks of every codec, a directory
     that is not an array store; and a save over a directory that is not a zarr array.

Prints one line per case; exits 1 with "FAIL ..." at the first failure, and when the python lacks
numpy, zarr, numcodecs or dask (test dependencies: scripts/install-deps.sh installs them). Written for Debian's python3 (numpy 1.24, zarr 2.13,
numcodecs 0.11, dask 2022.12).
"""

import json
import math
import os
import shutil
import subprocess
import sys
import time
import warnings

try:
    import numpy as np
    import numcodecs
    import zarr
    import dask.array as da
    from zarr.util import guess_chunks
except ImportError as missing:
    # test dependencies, not optional peers: a machine without them fails this test
    print(f"FAIL: {sys.executable} cannot import {missing.name} ({missing}): "
          "run scripts/install-deps.sh")
    sys.exit(1)

# sums of arrays holding NaN and infinities are meant: numpy and dask need not warn about them
warnings.filterwarnings("ignore", category=RuntimeWarning)

if len(sys.argv) != 3:
    sys.exit("usage: interop.py TOOL WORKDIR")
TOOL = os.path.abspath(sys.argv[1])
WORK = os.path.abspath(sys.argv[2])
if not os.access(TOOL, os.X_OK):
    sys.exit(f"FAIL: {TOOL} is not an executable")

DTYPES = ["|b1", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8", "<f4", "<f8"]
BIG_ENDIAN = [">f8", ">i4", ">u2"]
CODECS = ["none", "zstd", "blosc_lz4", "blosc_zstd"]
START = time.monotonic()
CASES = 0


class Failure(Exception):
    pass


def fail(msg):
    raise Failure(msg)


def ok(name, note=""):
    global CASES
    CASES += 1
    print(f"ok   {name}" + (f"  ({note})" if note else ""), flush=True)


def fresh(path):
    if os.path.lexists(path):
        shutil.rmtree(path)
    return path


def run_tool(*args, expect_ok=True):
    args = [TOOL] + [str(a) for a in args]
    try:
        p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        fail(f"timed out: {' '.join(args)}")
    if expect_ok and p.returncode != 0:
        fail(f"{' '.join(args)} exited {p.returncode}; stderr: {p.stderr.strip()}")
    return p


# ----------------------------------------------------------------------------------------------
# data


def native(a):
    """The array with a native byte order, the same bits (big-endian data byte-swapped)."""
    if a.dtype.byteorder == ">":
        return a.byteswap().view(a.dtype.newbyteorder("<"))
    return a


def bits_equal(got, want):
    """Bit-for-bit equal: same shape, same native dtype, same bytes (NaN payloads included)."""
    want = native(np.asarray(want))
    got = np.asarray(got)
    if got.shape != want.shape:
        return f"shape {got.shape}, expected {want.shape}"
    if got.dtype != want.dtype:
        return f"dtype {got.dtype.str}, expected {want.dtype.str}"
    g = np.ascontiguousarray(got).view(np.uint8).reshape(-1)
    w = np.ascontiguousarray(want).view(np.uint8).reshape(-1)
    if np.array_equal(g, w):
        return None
    isz = want.dtype.itemsize
    first = int(np.flatnonzero(g != w)[0]) // isz
    idx = np.unravel_index(first, want.shape)
    gv, wv = got.reshape(-1)[first], want.reshape(-1)[first]
    gb = g[first * isz:(first + 1) * isz].tobytes().hex()
    wb = w[first * isz:(first + 1) * isz].tobytes().hex()
    ndiff = int(np.count_nonzero((g != w).reshape(-1, isz).any(axis=1)))
    return (f"{ndiff} elements differ; first at {tuple(int(i) for i in idx)}: "
            f"{gv!r} (bytes {gb}), expected {wv!r} (bytes {wb})")


def check_bits(case, got, want):
    why = bits_equal(got, want)
    if why:
        fail(f"{case}: {why}")


def special_values(dt):
    """Extremes of a dtype, native byte order, flat."""
    dt = np.dtype(dt)
    if dt.kind == "b":
        return np.array([True, False, True, True, False], dtype=dt)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        vals = [info.min, info.max, 0, 1, info.max - 1, info.min + 1]
        if dt.kind == "i":
            vals += [-1]
        return np.array(vals, dtype=dt)
    fi = np.finfo(dt)
    uint = np.uint32 if dt.itemsize == 4 else np.uint64
    # NaNs with payloads: a signalling NaN, a negative quiet NaN, a quiet NaN with low bits set
    if dt.itemsize == 4:
        nans = np.array([0x7F800001, 0xFFC00000, 0x7FC00123], dtype=uint).view(dt)
    else:
        nans = np.array([0x7FF0000000000001, 0xFFF8000000000000, 0x7FF8000000000123],
                        dtype=uint).view(dt)
    vals = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, fi.smallest_subnormal,
                     -fi.smallest_subnormal, fi.max, -fi.max, fi.tiny, -fi.tiny, fi.eps, 1.0,
                     fi.smallest_subnormal * 3], dtype=dt)
    return np.concatenate([vals, nans])


def make_array(dt, shape, seed, specials=True):
    """Random data of `shape`, with the dtype's extremes at the start (flat order)."""
    rng = np.random.default_rng(seed)
    want = np.dtype(dt)
    dt = want.newbyteorder("=")
    n = int(np.prod(shape))
    if dt.kind == "b":
        a = rng.integers(0, 2, n).astype(dt)
    elif dt.kind in "iu":
        info = np.iinfo(dt)
        a = rng.integers(info.min, info.max, n, dtype=dt, endpoint=True)
    else:
        # positive, so the sums dask and numpy take in different orders agree closely
        a = rng.uniform(0.0, 1000.0, n).astype(dt)
    sp = special_values(dt) if specials else np.zeros(0, dt)
    k = min(n, sp.size)
    a[:k] = sp[:k]
    if want.byteorder == ">":
        a = a.byteswap().view(want)  # the same values (and NaN bits), big-endian
    return a.reshape(shape), k


def dtname(dt):
    return np.dtype(dt).str.replace("<", "").replace("|", "").replace(">", "be-")


# ----------------------------------------------------------------------------------------------
# a. ndshard writes, zarr-python and dask read

EXPECTED_COMPRESSOR = {
    "none": None,
    "zstd": {"id": "zstd"},
    "blosc_lz4": {"id": "blosc", "cname": "lz4", "shuffle": 1},
    "blosc_zstd": {"id": "blosc", "cname": "zstd", "shuffle": 1},
}


def check_zarray(case, store, a, codec, chunk_rows):
    try:
        with open(os.path.join(store, ".zarray")) as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{case}: cannot read .zarray: {e}")
    want_fields = {
        "zarr_format": 2,
        "order": "C",
        "filters": None,
        "dtype": a.dtype.str,
        "shape": list(a.shape),
    }
    for k, v in want_fields.items():
        if k not in meta:
            fail(f"{case}: .zarray has no '{k}'")
        if meta[k] != v:
            fail(f"{case}: .zarray '{k}' is {meta[k]!r}, expected {v!r}")
    chunks = meta.get("chunks")
    if not isinstance(chunks, list) or len(chunks) != a.ndim:
        fail(f"{case}: .zarray 'chunks' is {chunks!r}, expected a list of {a.ndim}")
    if chunk_rows and chunks[0] != chunk_rows:
        fail(f"{case}: .zarray chunks[0] is {chunks[0]}, expected {chunk_rows}")
    if chunks[0] < 1:
        fail(f"{case}: .zarray chunks[0] is {chunks[0]}, zarr needs chunks >= 1")
    whole = [max(1, n) for n in a.shape[1:]]  # zarr needs chunks >= 1 even where shape is 0
    if chunks[1:] != whole:
        fail(f"{case}: .zarray chunks {chunks}, expected whole rows {whole} after the first")
    if a.dtype.kind == "f" and meta.get("fill_value") != "NaN":
        fail(f"{case}: .zarray fill_value {meta.get('fill_value')!r}, expected 'NaN'")
    comp, want = meta.get("compressor", "missing"), EXPECTED_COMPRESSOR[codec]
    if want is None:
        if comp is not None:
            fail(f"{case}: .zarray compressor {comp!r}, expected null")
    else:
        if not isinstance(comp, dict):
            fail(f"{case}: .zarray compressor {comp!r}, expected {want}")
        for k, v in want.items():
            if comp.get(k) != v:
                fail(f"{case}: .zarray compressor {comp!r}: '{k}' should be {v!r}")
        try:
            numcodecs.get_codec(dict(comp))
        except Exception as e:  # noqa: BLE001 - numcodecs raises several types
            fail(f"{case}: numcodecs refuses compressor {comp!r}: {e}")
    return meta


def check_chunk_files(case, store, meta, a):
    """Only .zarray, .zattrs/.zgroup and the grid's chunk keys; a missing key only where the
    data is all fill_value (zarr's write_empty_chunks=False is legal)."""
    sep = meta.get("dimension_separator", ".") or "."
    chunks = meta["chunks"]
    grid = [math.ceil(s / c) for s, c in zip(a.shape, chunks)]
    expected = set()
    for idx in np.ndindex(*grid):
        expected.add(sep.join(str(i) for i in idx))
    present = set()
    for root, dirs, files in os.walk(store):
        for f in files:
            rel = os.path.relpath(os.path.join(root, f), store).replace(os.sep, "/")
            present.add(rel)
    extra = present - expected - {".zarray", ".zattrs", ".zgroup"}
    if extra:
        fail(f"{case}: unexpected files in the store: {sorted(extra)[:5]}")
    z = zarr.open(store, mode="r")
    for key in sorted(expected - present):
        idx = [int(i) for i in key.split(sep)]
        sl = tuple(slice(i * c, (i + 1) * c) for i, c in zip(idx, chunks))
        region = z[sl]
        fv = z.fill_value
        same = (np.all(np.isnan(region)) if (fv is not None and a.dtype.kind == "f" and
                                                np.isnan(fv)) else np.all(region == fv))
        if fv is None or not same:
            fail(f"{case}: chunk '{key}' is missing and its data is not all fill_value")


def check_no_leftovers(case, parent, expected):
    """The save's temporary and replaced stores are gone from the store's parent directory."""
    left = sorted(set(os.listdir(parent)) - set(expected))
    if left:
        fail(f"{case}: the save left {left} beside the store")


def case_a(dt, shape, codec, chunk_rows, seed):
    name = f"a/{dtname(dt)}/{'x'.join(map(str, shape))}/{codec}/chunk{chunk_rows}"
    d = fresh(os.path.join(WORK, "a", "case"))
    os.makedirs(d)
    a, nspecial = make_array(dt, shape, seed)
    npy, store = os.path.join(d, "in.npy"), os.path.join(d, "store.zarr")
    np.save(npy, a)
    run_tool("save", npy, store, codec, chunk_rows)
    check_no_leftovers(name, d, {"in.npy", "store.zarr"})
    meta = check_zarray(name, store, a, codec, chunk_rows)
    try:
        z = zarr.open(store, mode="r")
        got = z[...]
    except Exception as e:  # noqa: BLE001
        fail(f"{name}: zarr-python cannot read the store: {type(e).__name__}: {e}")
    if z.shape != a.shape or z.dtype != a.dtype:
        fail(f"{name}: zarr sees shape {z.shape} dtype {z.dtype}, expected {a.shape} {a.dtype}")
    check_bits(name + " (zarr-python)", got, a)
    check_chunk_files(name, store, meta, a)
    # a slice crossing chunk boundaries, through zarr-python's partial reads
    if a.shape[0] > 3:
        lo, hi = 1, a.shape[0] - 1
        check_bits(name + " (zarr-python rows 1:-1)", z[lo:hi], a[lo:hi])
    # dask over the rows after the special values (NaN would make every float sum NaN)
    row = int(np.prod(shape[1:]))
    skip = min(shape[0], -(-nspecial // row))
    dsum = da.from_zarr(store)[skip:].sum().compute(scheduler="synchronous")
    nsum = a[skip:].sum()
    if np.asarray(dsum).dtype != nsum.dtype:
        fail(f"{name}: dask sum dtype {np.asarray(dsum).dtype}, numpy {nsum.dtype}")
    if a.dtype.kind == "f":
        rtol = 1e-4 if a.dtype.itemsize == 4 else 1e-10
        if not (np.isclose(dsum, nsum, rtol=rtol) or (np.isnan(dsum) and np.isnan(nsum))):
            fail(f"{name}: dask sum {dsum!r}, numpy {nsum!r}")
    elif dsum != nsum:
        fail(f"{name}: dask sum {dsum!r}, numpy {nsum!r}")
    # the whole array through dask, specials included, with the NaN-aware sum on both sides
    dall = da.from_zarr(store).sum().compute(scheduler="synchronous")
    nall = a.sum()
    if a.dtype.kind == "f":
        if not ((np.isnan(dall) and np.isnan(nall)) or np.isclose(dall, nall)):
            fail(f"{name}: dask whole sum {dall!r}, numpy {nall!r}")
    elif dall != nall:
        fail(f"{name}: dask whole sum {dall!r}, numpy {nall!r}")
    # and back through ndshard
    out = os.path.join(d, "back.npy")
    run_tool("load", store, out)
    check_bits(name + " (ndshard load of its own store)", np.load(out), a)
    ok(name)


def part_a():
    shapes = {1: (1000,), 2: (257, 7), 3: (33, 5, 3)}
    edge = {1: 300, 2: 64, 3: 8}  # 1000 = 3*300 + 100, 257 = 4*64 + 1, 33 = 4*8 + 1
    seed = 0
    for dt in DTYPES:
        for rank, shape in shapes.items():
            for codec in CODECS:
                for chunk_rows in (edge[rank], 0):
                    seed += 1
                    case_a(dt, shape, codec, chunk_rows, seed)
    # one more with chunk_rows larger than the array, and chunk_rows 1
    case_a("<f8", (10, 3), "blosc_lz4", 64, 999)
    case_a("<i2", (9, 2), "zstd", 1, 998)
    # saving over a store: ndshard's own (more chunks, other dtype, other codec) and one
    # zarr-python wrote with nested keys; the new store must hold no chunk of the old one
    d = fresh(os.path.join(WORK, "a", "case"))
    os.makedirs(d)
    store = os.path.join(d, "store.zarr")
    for i, (dt, shape, codec, chunk_rows) in enumerate((("<f8", (100, 3), "blosc_lz4", 7),
                                                        ("<i2", (20, 3), "zstd", 6),
                                                        ("|b1", (5,), "none", 2))):
        name = f"a/save over a store, #{i + 1}: {dtname(dt)} {shape} {codec} chunk{chunk_rows}"
        a, _ = make_array(dt, shape, 500 + i)
        npy = os.path.join(d, "in.npy")
        np.save(npy, a)
        run_tool("save", npy, store, codec, chunk_rows)
        check_no_leftovers(name, d, {"in.npy", "store.zarr"})
        meta = check_zarray(name, store, a, codec, chunk_rows)
        check_bits(name, zarr.open(store, mode="r")[...], a)
        check_chunk_files(name, store, meta, a)
        ok(name)
    fresh(store)
    old_a, _ = make_array("<f8", (40, 6, 2), 510)
    make_store(store, old_a, chunks=(3, 2, 1), sep="/")
    a, _ = make_array("<u4", (10, 4), 511)
    npy = os.path.join(d, "in.npy")
    np.save(npy, a)
    name = "a/save over a nested store zarr-python wrote"
    run_tool("save", npy, store, "blosc_zstd", 3)
    check_no_leftovers(name, d, {"in.npy", "store.zarr"})
    meta = check_zarray(name, store, a, "blosc_zstd", 3)
    check_bits(name, zarr.open(store, mode="r")[...], a)
    check_chunk_files(name, store, meta, a)
    ok(name)

    # a big-endian .npy (saved as the native type), a store path ending in '/', a relative path
    d = fresh(os.path.join(WORK, "a", "case"))
    os.makedirs(d)
    a, _ = make_array(">f8", (31, 3), 520)
    npy = os.path.join(d, "in.npy")
    np.save(npy, a)
    name = "a/big-endian .npy, store path ending in '/'"
    run_tool("save", npy, os.path.join(d, "store.zarr") + "/", "zstd", 8)
    check_no_leftovers(name, d, {"in.npy", "store.zarr"})
    store = os.path.join(d, "store.zarr")
    check_zarray(name, store, native(a), "zstd", 8)
    check_bits(name, zarr.open(store, mode="r")[...], a)
    ok(name)
    name = "a/relative store path"
    p = subprocess.run([TOOL, "save", "in.npy", "rel.zarr", "blosc_lz4", "5"], cwd=d,
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        fail(f"{name}: save exited {p.returncode}; stderr: {p.stderr.strip()}")
    check_no_leftovers(name, d, {"in.npy", "store.zarr", "rel.zarr"})
    check_bits(name, zarr.open(os.path.join(d, "rel.zarr"), mode="r")[...], a)
    ok(name)

    # arrays without elements and a rank-0 array: ndshard may accept them (then zarr-python must
    # read them back) or refuse them with an ndshard error
    for shape, codecs_, chunk_list in (((0, 4), ("none", "blosc_lz4"), (0, 5)),
                                       ((10, 0), ("none", "zstd"), (0, 3)),
                                       ((4, 0, 3), ("none",), (0,)),
                                       ((), ("none", "blosc_zstd"), (0,))):
        for codec in codecs_:
            for chunk_rows in chunk_list:
                name = f"a/f8/{'x'.join(map(str, shape)) or 'rank0'}/{codec}/chunk{chunk_rows}"
                d = fresh(os.path.join(WORK, "a", "case"))
                os.makedirs(d)
                a = np.full(shape, 2.5, dtype="<f8")
                npy, store = os.path.join(d, "in.npy"), os.path.join(d, "store.zarr")
                np.save(npy, a)
                p = run_tool("save", npy, store, codec, chunk_rows, expect_ok=False)
                if p.returncode == 1 and p.stderr.startswith("ndshard: "):
                    ok(name, f"refused: {p.stderr.strip()}")
                    continue
                if p.returncode != 0:
                    fail(f"{name}: save exited {p.returncode}; stderr: {p.stderr.strip()}")
                if a.ndim:
                    meta = check_zarray(name, store, a, codec, chunk_rows)
                try:
                    got = zarr.open(store, mode="r")[...]
                except Exception as e:  # noqa: BLE001
                    fail(f"{name}: zarr-python cannot read the store: {type(e).__name__}: {e}")
                check_bits(name, got, a)
                if a.ndim:
                    check_chunk_files(name, store, meta, a)
                out = os.path.join(d, "back.npy")
                run_tool("load", store, out)
                check_bits(name + " (ndshard load)", np.load(out), a)
                ok(name, "accepted")


# ----------------------------------------------------------------------------------------------
# b. zarr-python writes, ndshard reads


def compressors():
    out = [("none", None), ("zstd3", numcodecs.Zstd(level=3))]
    for cname in ("lz4", "lz4hc", "zstd", "blosclz", "zlib"):
        for shuffle in (numcodecs.Blosc.NOSHUFFLE, numcodecs.Blosc.SHUFFLE,
                        numcodecs.Blosc.BITSHUFFLE):
            out.append((f"blosc-{cname}-s{shuffle}",
                        numcodecs.Blosc(cname=cname, clevel=5, shuffle=shuffle)))
    out.append(("zlib", numcodecs.Zlib()))
    out.append(("gzip", numcodecs.GZip()))
    return out


DEFAULT = object()  # zarr's own default compressor (Blosc lz4, shuffle)


def make_store(store, a, chunks=None, compressor=DEFAULT, fill_value=DEFAULT, order="C",
               sep=None, write=None):
    """A zarr-python store holding `a` (or only a[write] when `write` is given)."""
    kw = dict(mode="w", shape=a.shape, dtype=a.dtype, order=order)
    if chunks is not None:
        kw["chunks"] = chunks
    if compressor is not DEFAULT:
        kw["compressor"] = compressor
    if fill_value is not DEFAULT:
        kw["fill_value"] = fill_value
    if sep is not None:
        kw["dimension_separator"] = sep
    z = zarr.open(store, **kw)
    if write is None:
        z[...] = a
    else:
        for sl in write:
            z[sl] = a[sl]
    return z


def load_check(name, store, z, tag="load"):
    """TOOL load must give z[...] bit for bit (as the native type)."""
    d = os.path.dirname(store)
    out = os.path.join(d, "out.npy")
    if os.path.exists(out):
        os.remove(out)
    run_tool("load", store, out)
    got = np.load(out)
    want = z[...]
    if got.dtype != want.dtype.newbyteorder("="):
        fail(f"{name}: ndshard loaded dtype {got.dtype.str}, store has {want.dtype.str}")
    check_bits(f"{name} ({tag})", got, want)


def rows_check(name, store, z, ranges):
    d = os.path.dirname(store)
    want = z[...]
    for first, last in ranges:
        out = os.path.join(d, f"rows_{first}_{last}.npy")
        run_tool("rows", store, first, last, out)
        check_bits(f"{name} (rows {first}:{last})", np.load(out), want[first:last])
        os.remove(out)


def stream_check(name, store, z, block_rows_list):
    d = os.path.dirname(store)
    want = z[...]
    for br in block_rows_list:
        out = os.path.join(d, f"stream_{br}.npy")
        run_tool("stream", store, br, out)
        check_bits(f"{name} (stream block_rows {br})", np.load(out), want)
        os.remove(out)


def bad_rows_check(name, store, n):
    """Row ranges ndshard must refuse with an ndshard error naming the store."""
    d = os.path.dirname(store)
    for first, last in ((3, 2), (0, n + 1), (n + 1, n + 2)):
        p = run_tool("rows", store, first, last, os.path.join(d, "bad.npy"), expect_ok=False)
        if p.returncode != 1 or "ndshard:" not in p.stderr or store not in p.stderr:
            fail(f"{name}: rows {first}:{last} of {n} rows exited {p.returncode} with stderr "
                 f"{p.stderr.strip()!r}; expected exit 1 with an ndshard error naming the store")


def case_dir(sub):
    d = fresh(os.path.join(WORK, "b", sub))
    os.makedirs(d)
    return d


def part_b():
    comps = compressors()
    seed = 1000

    # every dtype (and big-endian ones) x every compressor, 2-D grid that does not divide
    for dt in DTYPES + BIG_ENDIAN:
        for cname, comp in comps:
            seed += 1
            name = f"b/{dtname(dt)}/30x9 chunks 7x4/{cname}"
            d = case_dir("case")
            a, _ = make_array(dt, (30, 9), seed)
            store = os.path.join(d, "s.zarr")
            z = make_store(store, a, chunks=(7, 4), compressor=comp)
            load_check(name, store, z)
            ok(name)

    # blosc settings numcodecs allows beyond its defaults: small blocks, level 0 (stored), typesize
    # of a 1-byte type with shuffle, zstd at a negative level, zlib at 9
    for dt, cname, comp in (("<f8", "blosc-lz4-blocksize256", numcodecs.Blosc("lz4", 5, 1, 256)),
                            ("<i2", "blosc-zstd-blocksize1024-s2",
                             numcodecs.Blosc("zstd", 3, 2, 1024)),
                            ("<f4", "blosc-lz4-clevel0", numcodecs.Blosc("lz4", 0, 1)),
                            ("|u1", "blosc-blosclz-clevel9-s1", numcodecs.Blosc("blosclz", 9, 1)),
                            ("<u8", "zstd-level-5", numcodecs.Zstd(level=-5)),
                            ("<i8", "zstd-level22", numcodecs.Zstd(level=22)),
                            (">f8", "zlib9", numcodecs.Zlib(level=9)),
                            ("<u4", "gzip9", numcodecs.GZip(level=9))):
        seed += 1
        name = f"b/{dtname(dt)}/300x9 chunks 70x4/{cname}"
        d = case_dir("case")
        a, _ = make_array(dt, (300, 9), seed)
        store = os.path.join(d, "s.zarr")
        z = make_store(store, a, chunks=(70, 4), compressor=comp)
        load_check(name, store, z)
        ok(name)

    # a store with .zattrs, one with an explicit dimension_separator '.', one dask wrote, one in a
    # path with a space and non-ASCII letters
    seed += 1
    d = case_dir("case")
    a, _ = make_array("<f8", (40, 6), seed)
    store = os.path.join(d, "s.zarr")
    z = make_store(store, a, chunks=(9, 4))
    z.attrs["units"] = "m"
    z.attrs["_ARRAY_DIMENSIONS"] = ["x", "y"]
    load_check("b/f8/40x6 with .zattrs", store, z)
    ok("b/f8/40x6 with .zattrs")
    d = case_dir("case")
    store = os.path.join(d, "s.zarr")
    z = make_store(store, a, chunks=(9, 4), sep=".")
    load_check("b/f8/40x6 dimension_separator '.'", store, z)
    ok("b/f8/40x6 dimension_separator '.'")
    for dt in ("<f4", "<i8", "|b1"):
        seed += 1
        d = case_dir("case")
        a, _ = make_array(dt, (203, 5, 3), seed)
        store = os.path.join(d, "s.zarr")
        da.from_array(a, chunks=(37, 2, 3)).to_zarr(store)
        z = zarr.open(store, mode="r")
        name = f"b/{dtname(dt)}/203x5x3 written by dask.to_zarr chunks 37x2x3"
        load_check(name, store, z)
        rows_check(name, store, z, [(30, 80)])
        ok(name)
    d = case_dir("case")
    store = os.path.join(d, "dir with space", "\u00e9t\u00e9 data.zarr")
    os.makedirs(os.path.dirname(store))
    z = make_store(store, a, chunks=(50, 2, 2))
    load_check("b/path with a space and non-ASCII", store, z)
    ok("b/path with a space and non-ASCII")

    # .zarray variations other writers produce: "dimension_separator": null, keys the spec says
    # readers should ignore, blosc's AUTOSHUFFLE (-1), a store path ending in '/'
    def edited(label, edit, comp=DEFAULT, dt="<i4"):
        nonlocal seed
        seed += 1
        d = case_dir("case")
        a, _ = make_array(dt, (23, 4), seed)
        store = os.path.join(d, "s.zarr")
        z = make_store(store, a, chunks=(5, 3), compressor=comp)
        zpath = os.path.join(store, ".zarray")
        with open(zpath) as f:
            meta = json.load(f)
        edit(meta)
        with open(zpath, "w") as f:
            json.dump(meta, f, indent=4)
        z = zarr.open(store, mode="r")  # zarr-python reads the edited store
        load_check(f"b/{label}", store, z)
        ok(f"b/{label}")

    edited('.zarray with "dimension_separator": null',
           lambda m: m.update(dimension_separator=None))
    edited(".zarray with an unknown key", lambda m: m.update(some_future_key={"a": [1, 2]}))
    edited("blosc shuffle -1 (AUTOSHUFFLE)", lambda m: None,
           comp=numcodecs.Blosc("lz4", 5, numcodecs.Blosc.AUTOSHUFFLE))
    edited("blosc shuffle -1 (AUTOSHUFFLE), 1-byte type", lambda m: None,
           comp=numcodecs.Blosc("zstd", 5, numcodecs.Blosc.AUTOSHUFFLE), dt="|u1")
    d = case_dir("case")
    a, _ = make_array("<i4", (23, 4), seed)
    store = os.path.join(d, "s.zarr")
    z = make_store(store, a, chunks=(5, 3))
    out = os.path.join(d, "out.npy")
    run_tool("load", store + "/", out)
    check_bits("b/store path ending in '/'", np.load(out), z[...])
    ok("b/store path ending in '/'")

    # chunk grids: zarr's defaults (split along every dimension), 1-D, 3-D, nested '/'
    layouts = []
    for dt, shape in (("<f8", (3001, 301)), ("<u8", (1501, 151, 3)), (">i4", (1501, 151, 3)),
                      ("|b1", (3001, 301))):
        g = guess_chunks(shape, np.dtype(dt).itemsize)
        if dt != "|b1" and not all(c < s for c, s in zip(g, shape)):
            fail(f"test setup: zarr's default chunks {g} for {shape} {dt} do not split every "
                 f"dimension")
        layouts.append((f"default chunks {'x'.join(map(str, g))}", dt, shape, None, None))
    layouts += [
        ("1-D chunks 64", "<i2", (1000,), (64,), None),
        ("3-D chunks 6x4x2", "<f4", (20, 9, 5), (6, 4, 2), None),
        ("3-D chunks 6x4x2 nested", "<f8", (20, 9, 5), (6, 4, 2), "/"),
        ("2-D chunks 7x4 nested", "|u1", (50, 13), (7, 4), "/"),
        ("2-D chunks 7x13 nested", ">u2", (50, 13), (7, 13), "/"),
        ("3-D chunks bigger than shape", "<i8", (5, 3, 2), (8, 8, 8), None),
        ("2-D chunks 1x1", "<u2", (6, 5), (1, 1), None),
        ("3-D chunks 1x1x1 nested", "|i1", (4, 3, 2), (1, 1, 1), "/"),
    ]
    for lname, dt, shape, chunks, sep in layouts:
        for cname, comp in (("default", DEFAULT), ("none", None), ("zstd3", numcodecs.Zstd(3)),
                            ("blosc-zstd-s2", numcodecs.Blosc("zstd", 5, 2))):
            if chunks is None and cname not in ("default", "zstd3"):
                continue  # the big arrays: two compressors are enough
            seed += 1
            name = f"b/{dtname(dt)}/{'x'.join(map(str, shape))} {lname}/{cname}"
            d = case_dir("case")
            a, _ = make_array(dt, shape, seed)
            store = os.path.join(d, "s.zarr")
            z = make_store(store, a, chunks=chunks, compressor=comp, sep=sep)
            if chunks is None and shape[0] > 1000 and dt != "|b1":
                if not all(c < s for c, s in zip(z.chunks, shape)):
                    fail(f"{name}: zarr chose chunks {z.chunks}, not split everywhere")
            load_check(name, store, z)
            ok(name)

    # rows and stream: 1-D, 2-D, 3-D, nested, edge chunks
    for lname, dt, shape, chunks, sep in (
            ("1-D chunks 64", "<f8", (1000,), (64,), None),
            ("2-D chunks 7x4", "<i4", (50, 13), (7, 4), None),
            ("3-D chunks 6x4x2 nested", ">f8", (20, 9, 5), (6, 4, 2), "/"),
            ("2-D chunks 7x4 bool", "|b1", (50, 13), (7, 4), None)):
        seed += 1
        name = f"b/{dtname(dt)}/{'x'.join(map(str, shape))} {lname}/rows+stream"
        d = case_dir("case")
        a, _ = make_array(dt, shape, seed)
        store = os.path.join(d, "s.zarr")
        z = make_store(store, a, chunks=chunks, sep=sep)
        n, c = shape[0], chunks[0]
        ranges = [(0, 0), (5, 5), (n, n), (0, n), (0, 1), (n - 1, n), (c - 1, c + 1),
                  (c, 2 * c), (c + 1, 3 * c - 1), (1, n - 1), (2, c - 1)]
        rows_check(name, store, z, ranges)
        bad_rows_check(name, store, n)
        stream_check(name, store, z, [1, 3, c - 1, c + 1, 2 * c + 3, n, n + 5, 0])
        ok(name)

    # missing chunks read as fill_value
    for dt in DTYPES + BIG_ENDIAN:
        ndt = np.dtype(dt)
        if ndt.kind == "b":
            fills = [True, False]
        elif ndt.kind == "f":
            fi = np.finfo(ndt)
            fills = [np.nan, 1.5, -np.inf, -0.0, 0.1, float(fi.max), float(fi.smallest_subnormal),
                     -float(fi.tiny)]
        elif ndt.kind == "i":
            fills = [7, int(np.iinfo(ndt).min), -1]
        else:
            fills = [7, int(np.iinfo(ndt).max)]
        for fv in fills:
            seed += 1
            name = f"b/{dtname(dt)}/20x9x5 chunks 6x4x2 partly written/fill {fv!r}"
            d = case_dir("case")
            a, _ = make_array(dt, (20, 9, 5), seed)
            store = os.path.join(d, "s.zarr")
            # written: rows 0-5 whole, a block in the middle of the grid; the rest missing
            z = make_store(store, a, chunks=(6, 4, 2), fill_value=fv,
                           write=[np.s_[0:6], np.s_[12:18, 4:8, 2:4]])
            nchunks = sum(len(fs) for _, _, fs in os.walk(store)) - 1
            if nchunks >= 4 * 3 * 3:
                fail(f"test setup: {name}: no chunk is missing")
            load_check(name, store, z)
            rows_check(name, store, z, [(4, 13), (18, 20), (0, 20)])
            stream_check(name, store, z, [5])
            ok(name, f"{nchunks} of 36 chunks present")
    # a store with no chunk at all, and a fill_value of null with every chunk written
    d = case_dir("case")
    store = os.path.join(d, "s.zarr")
    z = zarr.open(store, mode="w", shape=(10, 3), chunks=(4, 3), dtype="<i2", fill_value=-5)
    load_check("b/i2/10x3 no chunks/fill -5", store, z)
    ok("b/i2/10x3 no chunks/fill -5")
    for dt in ("<f8", "|b1", "<i4"):
        d = case_dir("case")
        a, _ = make_array(dt, (10, 3), seed)
        store = os.path.join(d, "s.zarr")
        z = make_store(store, a, chunks=(4, 2), fill_value=None)
        name = f"b/{dtname(dt)}/10x3 fill null, all written"
        load_check(name, store, z)
        ok(name)

    # sparse stores far larger than memory, as zarr-python makes them lazily: a row range reads
    # the chunks it needs (or the shape is refused: 2**62 rows of 16 bytes overflow 63 bits)
    for shape in ((2 ** 40, 3), (2 ** 62, 4)):
        name = f"b/i4/{shape[0]}x{shape[1]} sparse, rows"
        d = case_dir("case")
        store = os.path.join(d, "s.zarr")
        z = zarr.open(store, mode="w", shape=shape, chunks=(1000, shape[1]), dtype="<i4",
                      fill_value=9)
        z[:10] = np.arange(10 * shape[1], dtype="<i4").reshape(10, shape[1])
        z[2 ** 35:2 ** 35 + 1500] = -1
        out = os.path.join(d, "out.npy")
        ranges = [(0, 12), (2 ** 35 - 3, 2 ** 35 + 1503), (shape[0] - 2, shape[0])]
        p = run_tool("rows", store, *ranges[0], out, expect_ok=False)
        if p.returncode == 1 and p.stderr.startswith("ndshard: ") and store in p.stderr:
            ok(name, f"refused: {p.stderr.strip()}")
            continue
        if p.returncode != 0:
            fail(f"{name}: rows exited {p.returncode}; stderr {p.stderr.strip()!r}")
        for first, last in ranges:
            run_tool("rows", store, first, last, out)
            check_bits(f"{name} {first}:{last}", np.load(out), z[first:last])
        ok(name, "accepted")

    # no elements, rank 0: accepted (then bit for bit) or refused with an ndshard error
    for shape, write in (((0, 4), False), ((10, 0), False), ((3, 0, 2), False), ((), True),
                         ((), False)):
        name = f"b/f8/{'x'.join(map(str, shape)) or 'rank0'}" + (" (written)" if write else "")
        d = case_dir("case")
        store = os.path.join(d, "s.zarr")
        z = zarr.open(store, mode="w", shape=shape, dtype="<f8", fill_value=-3.0)
        if write:
            z[...] = 42.25
        p = run_tool("load", store, os.path.join(d, "out.npy"), expect_ok=False)
        if p.returncode == 0:
            check_bits(name, np.load(os.path.join(d, "out.npy")), z[...])
            if shape:
                stream_check(name, store, z, [2])
                rows_check(name, store, z, [(0, shape[0])])
            ok(name, "accepted")
        elif p.returncode == 1 and p.stderr.startswith("ndshard: "):
            ok(name, f"refused: {p.stderr.strip()}")
        else:
            fail(f"{name}: load exited {p.returncode}; stderr {p.stderr.strip()!r}")

    # order 'F': supported (then bit for bit) or refused naming the store and 'order'
    results = set()
    for dt, shape, chunks, comp in (("<f8", (20, 9, 5), (6, 4, 2), DEFAULT),
                                    ("<i4", (50, 13), (7, 4), None),
                                    (">u2", (50, 13), (7, 4), numcodecs.Zstd(3)),
                                    ("|b1", (20, 9, 5), (6, 4, 2), numcodecs.Blosc("lz4", 5, 2)),
                                    ("<f4", (1000,), (64,), None)):
        seed += 1
        name = f"b/{dtname(dt)}/{'x'.join(map(str, shape))} order F"
        d = case_dir("case")
        a, _ = make_array(dt, shape, seed)
        store = os.path.join(d, "s.zarr")
        z = make_store(store, a, chunks=chunks, compressor=comp, order="F")
        out = os.path.join(d, "out.npy")
        p = run_tool("load", store, out, expect_ok=False)
        if p.returncode == 0:
            check_bits(name, np.load(out), z[...])
            if len(shape) > 1:
                rows_check(name, store, z, [(1, 9), (0, shape[0])])
                stream_check(name, store, z, [5])
            results.add("supported")
            ok(name, "order F supported")
        elif (p.returncode == 1 and p.stderr.startswith("ndshard: ") and store in p.stderr
              and "order" in p.stderr):
            if len(shape) == 1:
                # rank 1: 'F' and 'C' are the same layout; refusing is allowed, but say so
                results.add("refused rank 1")
            results.add("refused")
            ok(name, f"order F refused: {p.stderr.strip()}")
        else:
            fail(f"{name}: load exited {p.returncode}; stderr {p.stderr.strip()!r}; expected "
                 f"success or exit 1 with an ndshard error naming the store and 'order'")
    print(f"note: order 'F' stores: {', '.join(sorted(results))}", flush=True)


# ----------------------------------------------------------------------------------------------
# c. stores ndshard must refuse


def part_c():
    cases = []
    d0 = fresh(os.path.join(WORK, "c"))
    os.makedirs(d0)

    def store_for(label):
        return os.path.join(d0, label + ".zarr")

    s = store_for("filters-delta")
    z = zarr.open(s, mode="w", shape=(20, 3), chunks=(6, 3), dtype="<i4",
                  filters=[numcodecs.Delta(dtype="<i4")])
    z[...] = np.arange(60, dtype="<i4").reshape(20, 3)
    cases.append(("filters Delta", s, "filters"))

    s = store_for("filters-delta-no-compressor")
    z = zarr.open(s, mode="w", shape=(20,), chunks=(6,), dtype="<f8", compressor=None,
                  filters=[numcodecs.Delta(dtype="<f8")])
    z[...] = np.arange(20.0)
    cases.append(("filters Delta, no compressor", s, "filters"))

    s = store_for("dtype-U4")
    z = zarr.open(s, mode="w", shape=(10,), chunks=(4,), dtype="<U4")
    z[...] = np.array(["ab", "cd", "ef", "gh", "ij", "kl", "mn", "op", "qr", "st"])
    cases.append(("dtype <U4", s, "dtype"))

    s = store_for("dtype-S3")
    z = zarr.open(s, mode="w", shape=(10,), chunks=(4,), dtype="|S3")
    z[...] = b"abc"
    cases.append(("dtype |S3", s, "dtype"))

    s = store_for("dtype-c16")
    z = zarr.open(s, mode="w", shape=(10,), chunks=(4,), dtype="<c16")
    z[...] = 1 + 2j
    cases.append(("dtype <c16", s, "dtype"))

    s = store_for("dtype-f2")
    z = zarr.open(s, mode="w", shape=(10,), chunks=(4,), dtype="<f2")
    z[...] = 1.5
    cases.append(("dtype <f2", s, "dtype"))

    s = store_for("dtype-M8")
    z = zarr.open(s, mode="w", shape=(10,), chunks=(4,), dtype="<M8[ns]")
    z[...] = np.datetime64("2020-01-01", "ns")
    cases.append(("dtype <M8[ns]", s, "dtype"))

    s = store_for("dtype-structured")
    z = zarr.open(s, mode="w", shape=(10,), chunks=(4,), dtype=[("a", "<i4"), ("b", "<f8")],
                  fill_value=None)
    cases.append(("dtype structured", s, "dtype"))

    s = store_for("compressor-lzma")
    z = zarr.open(s, mode="w", shape=(10,), chunks=(4,), dtype="<i4",
                  compressor=numcodecs.LZMA())
    z[...] = 3
    cases.append(("compressor LZMA", s, "compressor"))

    s = store_for("compressor-bz2")
    z = zarr.open(s, mode="w", shape=(10,), chunks=(4,), dtype="<i4", compressor=numcodecs.BZ2())
    z[...] = 3
    cases.append(("compressor BZ2", s, "compressor"))

    # corrupt chunks: the error names the store (its chunk file) and nothing crashes
    def corrupt(label, comp, mangle, dtype="<i4"):
        s = store_for(label)
        z = zarr.open(s, mode="w", shape=(20, 3), chunks=(8, 3), dtype=dtype, compressor=comp)
        z[...] = np.arange(60).reshape(20, 3)
        key = os.path.join(s, "1.0")
        with open(key, "rb") as f:
            data = f.read()
        with open(key, "wb") as f:
            f.write(mangle(data))
        cases.append((label, s, ""))

    def other_size(comp):
        """A valid chunk of the same codec holding 16 rows instead of 8."""
        def mangle(_):
            t = store_for("other-size-source")
            fresh(t)
            z = zarr.open(t, mode="w", shape=(16, 3), chunks=(16, 3), dtype="<i4",
                          compressor=comp)
            z[...] = 5
            with open(os.path.join(t, "0.0"), "rb") as f:
                return f.read()
        return mangle

    rng = np.random.default_rng(7)
    garbage = rng.integers(0, 256, 200, dtype=np.uint8).tobytes()
    corrupt("chunk-truncated-none", None, lambda b: b[:-5])
    corrupt("chunk-too-long-none", None, lambda b: b + b"xx")
    corrupt("chunk-empty-none", None, lambda b: b"")
    for cname, comp in (("blosc", numcodecs.Blosc("lz4", 5, 1)), ("zstd", numcodecs.Zstd(3)),
                        ("zlib", numcodecs.Zlib()), ("gzip", numcodecs.GZip())):
        corrupt(f"chunk-garbage-{cname}", comp, lambda b: garbage)
        corrupt(f"chunk-truncated-{cname}", comp, lambda b: b[:len(b) // 2])
        corrupt(f"chunk-empty-{cname}", comp, lambda b: b"")
        corrupt(f"chunk-other-size-{cname}", comp, other_size(comp))
    # a blosc header whose sizes lie: nbytes (bytes 4-7) says 16 MiB
    corrupt("chunk-blosc-header-nbytes", numcodecs.Blosc("lz4", 5, 1),
            lambda b: b[:4] + (16 << 20).to_bytes(4, "little") + b[8:])
    # ... and cbytes (bytes 12-15) larger than the file
    corrupt("chunk-blosc-header-cbytes", numcodecs.Blosc("lz4", 5, 1),
            lambda b: b[:12] + (len(b) + 1000).to_bytes(4, "little") + b[16:])

    # not an array store: no .zarray, a group
    s = store_for("no-zarray")
    os.makedirs(s)
    cases.append(("no .zarray", s, ".zarray"))
    s = store_for("group")
    zarr.open_group(s, mode="w").create_dataset("x", shape=(4,), dtype="<i4")
    cases.append(("a group", s, ".zarray"))

    for label, store, field in cases:
        name = f"c/{label}"
        for cmd in (["load", store, os.path.join(d0, "out.npy")],
                    ["rows", store, 8, 9, os.path.join(d0, "out.npy")],  # in chunk 1.0
                    ["stream", store, 3, os.path.join(d0, "out.npy")]):
            p = run_tool(*cmd, expect_ok=False)
            msg = p.stderr.strip()
            problems = []
            if p.returncode != 1:
                problems.append(f"exit {p.returncode}, expected 1")
            if "ndshard:" not in msg:
                problems.append("no 'ndshard:' in stderr")
            if store not in msg:
                problems.append("the store path is not in stderr")
            if field not in msg:
                problems.append(f"'{field}' is not in stderr")
            if problems:
                fail(f"{name} ({cmd[0]}): {'; '.join(problems)}; stderr: {msg!r}")
        ok(name, msg)

    # save must refuse a directory that is not a zarr array store, and leave it alone
    for label, setup in (("a directory with a file", lambda t: open(os.path.join(t, "keep.txt"),
                                                                      "w").write("keep")),
                         ("a zarr group", lambda t: zarr.open_group(t, mode="w"))):
        target = fresh(os.path.join(d0, "target"))
        os.makedirs(target)
        setup(target)
        before = sorted(os.listdir(target))
        npy = os.path.join(d0, "small.npy")
        np.save(npy, np.arange(6, dtype="<i4").reshape(3, 2))
        p = run_tool("save", npy, target, "none", 0, expect_ok=False)
        name = f"c/save over {label}"
        if p.returncode != 1 or "ndshard:" not in p.stderr or target not in p.stderr:
            fail(f"{name}: save exited {p.returncode}, stderr {p.stderr.strip()!r}; expected "
                 f"exit 1 with an ndshard error naming the directory")
        if sorted(os.listdir(target)) != before:
            fail(f"{name}: the directory changed: {before} became {sorted(os.listdir(target))}")
        ok(name, p.stderr.strip())


def main():
    os.makedirs(WORK, exist_ok=True)
    for sub in ("a", "b", "c"):
        fresh(os.path.join(WORK, sub))
    try:
        part_a()
        part_b()
        part_c()
    except Failure as e:
        print(f"FAIL {e}", flush=True)
        print(f"({CASES} cases passed before it, {time.monotonic() - START:.1f} s)", flush=True)
        return 1
    print(f"all {CASES} cases passed in {time.monotonic() - START:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
