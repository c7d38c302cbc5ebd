#!/usr/bin/python3
"""ndshard's Python calls against numpy, pandas, gensim and the classic multiprocess recipes.

    PYTHONPATH=<dir holding the ndshard package> /usr/bin/python3 bench/python/bench.py
        [--rows 1000000] [--cols 10] [--emb-words 100000] [--emb-dim 300] [--workers 2]
        [--repeat 3] [--fast-repeat 9] [--dir /dev/shm] [--quick] [--only REGEX]
        [--json out.json] [--chart out.svg|out.png] [--keep] [--note TEXT]

Two workloads: the reference array (ROWS x COLS float64 uniform in [0, 1), numpy's
default_rng(42)), written and read as tab-separated text and as .npy; and a GloVe-shaped
embedding file (WORDS lines "word v1 ... vDIM", space separated, float32 values written with 5
significant digits, '%.5g', as the released glove.6B files are).

Every measurement runs in a fresh child process (this script with --child CASE) that does one
operation and prints one JSON line: the seconds of the operation alone, its ru_maxrss (and
RUSAGE_CHILDREN's), and for the multi-process recipes the memory each worker added. A --dry
child of every case (same imports, the array built or loaded, no operation) is its memory
baseline. Rounds run every case once each, round-robin, so the machine's noise hits all alike;
cases under 0.5 s get --fast-repeat rounds in all. See bench/python/README.md.
"""
import argparse
import datetime
import gc
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MIB = 1 << 20
TASKS = ["text write", "text read", "embeddings read", "binary write", "binary read"]
SEED = 42        # the reference array: numpy.random.default_rng(42).random((rows, cols))
EMB_SEED = 300   # the embedding table


class Case:
    def __init__(self, name, task, label, modules=(), role="peer", output=None, kind=None):
        self.name, self.task, self.label = name, task, label
        self.modules = list(modules)
        self.role = role            # ref (ratios are taken against it) | ndshard | recipe | peer
        self.output = output        # a writer's output under out/ (a directory if it ends with /)
        self.kind = kind or ("write" if task.endswith("write") else "read")


CASES = [
    Case("ndshard.write_text", "text write", "ndshard.write_text (one file)", ["ndshard"], "ref", "write_text.tsv"),
    Case("ndshard.save.tsv", "text write", "ndshard.save (tsv shards)", ["ndshard"], "ndshard", "save_tsv.nds/"),
    Case("numpy.savetxt", "text write", "numpy.savetxt ('%.18e')", [], "peer", "savetxt.tsv"),
    Case("recipe.a", "text write", "(a) ProcessPoolExecutor, pickled blocks, savetxt shards", [], "recipe", "recipe_a/"),
    Case("recipe.b", "text write", "(b) shared_memory blocks, savetxt shards", [], "recipe", "recipe_b/"),
    Case("pandas.to_csv", "text write", "pandas.to_csv", ["pandas"], "peer", "to_csv.tsv"),
    Case("ndshard.read_text", "text read", "ndshard.read_text (one file)", ["ndshard"], "ref"),
    Case("ndshard.load.tsv", "text read", "ndshard.load (tsv shards)", ["ndshard"], "ndshard"),
    Case("numpy.loadtxt", "text read", "numpy.loadtxt", [], "peer"),
    Case("recipe.c", "text read", "(c) Process per block, loadtxt skiprows/max_rows, concatenate", [], "recipe"),
    Case("pandas.read_csv", "text read", "pandas.read_csv (engine c, round_trip)", ["pandas"], "peer"),
    Case("ndshard.read_embeddings", "embeddings read", "ndshard.read_embeddings", ["ndshard"], "ref"),
    Case("gensim", "embeddings read", "gensim KeyedVectors.load_word2vec_format", ["gensim"], "peer"),
    Case("pandas.glove", "embeddings read", "pandas.read_csv (sep ' ', index_col 0, round_trip)", ["pandas"], "peer"),
    Case("python.loop", "embeddings read", "Python loop: split + numpy.asarray per line", [], "peer"),
    Case("ndshard.write_npy", "binary write", "ndshard.write_npy (one file)", ["ndshard"], "ref", "write_npy.npy"),
    Case("ndshard.save.npy", "binary write", "ndshard.save (npy shards)", ["ndshard"], "ndshard", "save_npy.nds/"),
    Case("numpy.save", "binary write", "numpy.save", [], "peer", "numpy_save.npy"),
    Case("ndshard.read_npy", "binary read", "ndshard.read_npy (one file)", ["ndshard"], "ref"),
    Case("ndshard.load.npy", "binary read", "ndshard.load (npy shards)", ["ndshard"], "ndshard"),
    Case("numpy.load", "binary read", "numpy.load", [], "peer"),
]
BY_NAME = {c.name: c for c in CASES}

# the inputs, written once by the "prep" child (names under the work directory)
INPUTS = {
    "ref.npy": "the reference array, numpy.save",
    "ref.tsv": "the reference array as tab-separated shortest round-trip text (Python's repr)",
    "ref_tsv.nds": "the reference array, ndshard.save(format='tsv')",
    "ref_npy.nds": "the reference array, ndshard.save(format='npy')",
    "emb.txt": "the embedding file: 'word v1 ... vD' per line, '%.5g' values, no header",
}
READS = {  # reader -> its input
    "ndshard.read_text": "ref.tsv", "ndshard.load.tsv": "ref_tsv.nds", "numpy.loadtxt": "ref.tsv",
    "recipe.c": "ref.tsv", "pandas.read_csv": "ref.tsv",
    "ndshard.read_embeddings": "emb.txt", "gensim": "emb.txt", "pandas.glove": "emb.txt",
    "python.loop": "emb.txt",
    "ndshard.read_npy": "ref.npy", "ndshard.load.npy": "ref_npy.nds", "numpy.load": "ref.npy",
}


# ================================================================================================
# The child side: one operation per process
# ================================================================================================

def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def rss_shmem_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssShmem:"):
                return int(line.split()[1]) * 1024
    return 0


def peak_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def split_rows(rows, n):
    return [(rows * i // n, rows * (i + 1) // n) for i in range(n) if rows * i // n < rows * (i + 1) // n]


# --- the study's recipes (module level: worker processes must find them) -------------------------

_worker_start = 0


def _worker_init():
    global _worker_start
    _worker_start = rss_bytes()


def _savetxt_block(path, block):
    """Recipe (a): the block arrived pickled, a copy in this worker."""
    import numpy as np
    np.savetxt(path, block, delimiter="\t")  # numpy's default fmt '%.18e'
    return os.getpid(), peak_bytes() - _worker_start


def _savetxt_shared(name, shape, dtype, first, last, path):
    """Recipe (b): attach the segment, savetxt this worker's rows of it."""
    import numpy as np
    from multiprocessing import resource_tracker, shared_memory
    shm = shared_memory.SharedMemory(name=name)
    # attaching registers the segment with the resource tracker too (Python < 3.13), which would
    # unlink it or warn when the worker exits: the parent owns it
    resource_tracker.unregister(shm._name, "shared_memory")
    try:
        view = np.ndarray(shape, dtype=dtype, buffer=shm.buf)
        np.savetxt(path, view[first:last], delimiter="\t")
        shared = rss_shmem_bytes()  # the segment's pages this worker touched: shared, not its own
        del view
    finally:
        shm.close()
    return os.getpid(), max(0, peak_bytes() - _worker_start - shared)


def per_worker(pairs):
    """(pid, added bytes) of each task -> the sum over workers of the largest each reported."""
    most = {}
    for pid, extra in pairs:
        most[pid] = max(most.get(pid, 0), extra)
    return sum(most.values())


def recipe_a(a, out, workers):
    from concurrent.futures import ProcessPoolExecutor
    os.makedirs(out)
    with ProcessPoolExecutor(max_workers=workers, initializer=_worker_init) as pool:
        futures = [pool.submit(_savetxt_block, os.path.join(out, "part-%05d.tsv" % i), a[first:last])
                   for i, (first, last) in enumerate(split_rows(a.shape[0], workers))]
        return per_worker(f.result() for f in futures)


def recipe_b(a, out, workers):
    import numpy as np
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import shared_memory
    os.makedirs(out)
    shm = shared_memory.SharedMemory(create=True, size=max(1, a.nbytes))
    try:
        np.ndarray(a.shape, dtype=a.dtype, buffer=shm.buf)[...] = a
        with ProcessPoolExecutor(max_workers=workers, initializer=_worker_init) as pool:
            futures = [pool.submit(_savetxt_shared, shm.name, a.shape, a.dtype.str, first, last,
                                   os.path.join(out, "part-%05d.tsv" % i))
                       for i, (first, last) in enumerate(split_rows(a.shape[0], workers))]
            return per_worker(f.result() for f in futures)
    finally:
        shm.close()
        shm.unlink()


def recipe_c(path, workers):
    """Recipe (c), as bench/compare/peers.py measures it: a Process per block, each calling
    loadtxt(skiprows=..., max_rows=...) on the one file, the blocks pickled back and joined."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compare"))
    from peers import recipe_read
    return recipe_read(path, "float64", workers)


# --- the other readers of the embedding file ------------------------------------------------------

def python_loop(path):
    import numpy as np
    words, rows = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip().split(" ")
            words.append(parts[0])
            rows.append(np.asarray(parts[1:], dtype=np.float32))
    return words, np.stack(rows)


def pandas_glove(pd, path, dim):
    import csv
    import numpy as np
    dtypes = {0: str}
    dtypes.update({i: np.float32 for i in range(1, dim + 1)})
    df = pd.read_csv(path, sep=" ", header=None, index_col=0, quoting=csv.QUOTE_NONE,
                     na_filter=False, engine="c", float_precision="round_trip", dtype=dtypes)
    return df.index.tolist(), df.to_numpy()


# --- the inputs --------------------------------------------------------------------------------------

def reference_array(np, rows, cols):
    return np.random.default_rng(SEED).random((rows, cols))


def embedding_table(np, words, dim):
    """(words, values as float32, the lines of text). Words: random lowercase letters plus the
    row number in base 36, so they are unique; values: normal, sd 0.4, written '%.5g'."""
    rng = np.random.default_rng(EMB_SEED)
    letters = rng.integers(0, 26, size=(words, 8))
    lengths = rng.integers(1, 9, size=words)
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    digits = "0123456789" + alphabet

    def base36(i):
        s = ""
        while True:
            i, r = divmod(i, 36)
            s = digits[r] + s
            if not i:
                return s

    names = ["".join(alphabet[c] for c in letters[i, :lengths[i]]) + base36(i) for i in range(words)]
    values = (rng.standard_normal((words, dim)) * 0.4).astype(np.float32)
    fmt = " ".join(["%.5g"] * dim)
    return names, values, fmt


def prep(args, np, work, log):
    a = reference_array(np, args.rows, args.cols)
    np.save(os.path.join(work, "ref.npy"), a)
    t = time.perf_counter()
    with open(os.path.join(work, "ref.tsv"), "w") as f:
        step = 20000
        for i in range(0, a.shape[0], step):
            f.write("".join("\t".join(map(repr, row)) + "\n" for row in a[i:i + step].tolist()))
    log("ref.tsv written in %.1f s" % (time.perf_counter() - t))
    t = time.perf_counter()
    names, values, fmt = embedding_table(np, args.emb_words, args.emb_dim)
    expected = np.empty_like(values)
    with open(os.path.join(work, "emb.txt"), "w", encoding="utf-8") as f:
        for i, row in enumerate(values.tolist()):
            text = fmt % tuple(row)
            # what a reader must return: the decimal text correctly rounded to float32 (through
            # float64: exact for 5 significant digits of values this size)
            expected[i] = np.array(text.split(" "), dtype=np.float64)
            f.write(names[i] + " " + text + "\n")
    np.save(os.path.join(work, "emb_ref.npy"), expected)
    with open(os.path.join(work, "emb_words.json"), "w") as f:
        json.dump(names, f)
    log("emb.txt written in %.1f s" % (time.perf_counter() - t))
    made = {"ref.npy": True, "ref.tsv": True, "emb.txt": True}
    try:
        import ndshard
    except Exception as e:  # noqa: BLE001 -- anything an extension module's import raises
        log("ndshard not importable (%s): its datasets are not prepared" % e)
        return made
    ndshard.save(os.path.join(work, "ref_tsv.nds"), a, format="tsv", threads=args.workers)
    ndshard.save(os.path.join(work, "ref_npy.nds"), a, format="npy", threads=args.workers)
    made["ref_tsv.nds"] = made["ref_npy.nds"] = True
    # is ndshard's write_text the same text as Python's repr? (the file every text reader reads)
    probe = os.path.join(work, "probe.tsv")
    ndshard.write_text(probe, a[:20000])
    with open(probe) as f, open(os.path.join(work, "ref.tsv")) as g:
        mine = f.read()
        theirs = "".join(g.readline() for _ in range(min(20000, a.shape[0])))
    made["write_text_same_as_repr"] = mine == theirs
    os.unlink(probe)
    return made


# --- checks --------------------------------------------------------------------------------------

def bit_mismatches(np, got, ref):
    got = np.asarray(got)
    if got.shape != ref.shape or got.dtype != ref.dtype:
        return int(ref.size) or 1
    bits = np.uint64 if ref.itemsize == 8 else np.uint32
    return int(np.count_nonzero(np.ascontiguousarray(got).view(bits) != ref.view(bits)))


def read_text_exactly(np, path):
    """A correctly rounded reader independent of ndshard: pandas' round_trip parser (Python's
    own strtod), else numpy.loadtxt."""
    try:
        import pandas as pd
        return pd.read_csv(path, sep="\t", header=None, engine="c", float_precision="round_trip",
                           dtype=np.float64).to_numpy()
    except ImportError:
        return np.loadtxt(path, delimiter="\t", ndmin=2)


def read_written(np, path, text):
    """What a writer wrote, as one array: a file, a directory of part-* shards, or an ndshard
    dataset (its manifest's shards in row order, read with numpy / the reader above)."""
    if os.path.isfile(path):
        return read_text_exactly(np, path) if text else np.load(path)
    manifest = os.path.join(path, "manifest.json")
    if os.path.exists(manifest):
        with open(manifest) as f:
            shards = sorted(json.load(f)["shards"], key=lambda s: s["rows"][0])
        names = [s["path"] for s in shards]
    else:
        names = sorted(n for n in os.listdir(path) if n.startswith("part-"))
    parts = [read_text_exactly(np, os.path.join(path, n)) if text else np.load(os.path.join(path, n))
             for n in names]
    return np.concatenate(parts)


def tree_bytes(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, n)) for d, _, files in os.walk(path) for n in files)


# --- one case ----------------------------------------------------------------------------------

def ndshard_kwargs(fn, workers):
    """threads=workers for the calls that take it (all of them in the module as built; a call
    without it uses every core)."""
    import inspect
    try:
        return {"threads": workers} if "threads" in inspect.signature(fn).parameters else {}
    except (TypeError, ValueError):  # a builtin without a signature
        return {"threads": workers} if "threads" in (getattr(fn, "__doc__", "") or "") else {}


def child(args):
    case = BY_NAME[args.child]
    line = {"case": case.name}

    def emit(**kw):
        line.update(kw)
        print(json.dumps(line), flush=True)

    import numpy as np
    mods = {}
    for m in case.modules:
        try:
            if m == "gensim":
                from gensim.models import KeyedVectors
                mods[m] = KeyedVectors
            else:
                mods[m] = __import__(m)
        except Exception as e:  # noqa: BLE001
            return emit(skipped="%s: %s" % (m, str(e).splitlines()[0] if str(e) else type(e).__name__))
    nd, pd, w = mods.get("ndshard"), mods.get("pandas"), args.workers
    work = args.work
    out = os.path.join(work, "out", case.output.rstrip("/")) if case.output else None
    inp = os.path.join(work, READS[case.name]) if case.name in READS else None
    if inp and not os.path.exists(inp):
        return emit(skipped="its input %s was not prepared" % os.path.basename(inp))

    # the state before the clock: a writer's array (a DataFrame around it for pandas); a reader
    # has nothing, its dry twin holds what it will return
    state = None
    if case.kind == "write":
        state = reference_array(np, args.rows, args.cols)
        if case.name == "pandas.to_csv":
            state = pd.DataFrame(state, copy=False)
    T = {f: ndshard_kwargs(getattr(nd, f), w) for f in ("write_text", "read_text", "read_embeddings",
                                                          "save", "load", "write_npy", "read_npy")} if nd else {}
    ops = {
        "ndshard.write_text": lambda a: nd.write_text(out, a, delimiter="\t", **T["write_text"]),
        "ndshard.save.tsv": lambda a: nd.save(out, a, format="tsv", **T["save"]),
        "numpy.savetxt": lambda a: np.savetxt(out, a, delimiter="\t"),
        "recipe.a": lambda a: recipe_a(a, out, w),
        "recipe.b": lambda a: recipe_b(a, out, w),
        "pandas.to_csv": lambda df: df.to_csv(out, sep="\t", header=False, index=False),
        "ndshard.read_text": lambda _: nd.read_text(inp, dtype="float64", delimiter="\t",
                                                   **T["read_text"]),
        "ndshard.load.tsv": lambda _: nd.load(inp, **T["load"]),
        "numpy.loadtxt": lambda _: np.loadtxt(inp, delimiter="\t"),
        "recipe.c": lambda _: recipe_c(inp, w),
        "pandas.read_csv": lambda _: pd.read_csv(inp, sep="\t", header=None, engine="c",
                                                 float_precision="round_trip", dtype=np.float64).to_numpy(),
        "ndshard.read_embeddings": lambda _: nd.read_embeddings(inp, dtype="float32",
                                                         **T["read_embeddings"]),
        "gensim": lambda _: mods["gensim"].load_word2vec_format(inp, binary=False, no_header=True),
        "pandas.glove": lambda _: pandas_glove(pd, inp, args.emb_dim),
        "python.loop": lambda _: python_loop(inp),
        "ndshard.write_npy": lambda a: nd.write_npy(out, a, **T["write_npy"]),
        "ndshard.save.npy": lambda a: nd.save(out, a, format="npy", **T["save"]),
        "numpy.save": lambda a: np.save(out, a),
        "ndshard.read_npy": lambda _: nd.read_npy(inp, **T["read_npy"]),
        "ndshard.load.npy": lambda _: nd.load(inp, **T["load"]),
        "numpy.load": lambda _: np.load(inp),
    }
    op = ops[case.name]
    emb = case.task == "embeddings read"

    def reference():
        if emb:
            with open(os.path.join(work, "emb_words.json")) as f:
                return json.load(f), np.load(os.path.join(work, "emb_ref.npy"))
        return reference_array(np, args.rows, args.cols)

    if args.dry:
        held = reference() if case.kind == "read" else state
        gc.collect()
        return emit(dry=True, maxrss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                    holds=type(held).__name__)
    gc.collect()
    t0 = time.perf_counter()
    got = op(state)
    seconds = time.perf_counter() - t0
    line.update(seconds=seconds,
                maxrss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                children_maxrss_kib=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    if case.name in ("recipe.a", "recipe.b"):
        line["workers_extra_kib"] = got // 1024
    elif case.name == "recipe.c":
        got, extra = got
        line["workers_extra_kib"] = extra // 1024
    if case.kind == "write":
        line["file_bytes"] = tree_bytes(out)
        if args.check:  # read back what it wrote, bit for bit (outside the clock and the peak)
            back = read_written(np, out, case.task == "text write")
            line["mismatches"] = bit_mismatches(np, back.reshape(state.shape), np.asarray(state))
        return emit()
    line["file_bytes"] = tree_bytes(inp)
    if emb:
        if case.name == "gensim":
            words, vectors = list(got.index_to_key), got.vectors
        else:
            words, vectors = got
        ref_words, ref = reference()
        line["mismatches"] = bit_mismatches(np, vectors, ref)
        line["word_mismatches"] = (sum(x != y for x, y in zip(words, ref_words))
                                   + abs(len(words) - len(ref_words)))
        line["result"] = "%s of %s x %s, words: %s" % (np.asarray(vectors).dtype, *np.asarray(vectors).shape,
                                                       type(words).__name__)
    else:
        ref = reference()
        line["mismatches"] = bit_mismatches(np, got, ref)
        line["result"] = "%s %s%s" % (np.asarray(got).dtype, np.asarray(got).shape,
                                      "" if np.asarray(got).flags.c_contiguous else " (not C-contiguous)")
    emit()


# ================================================================================================
# The parent side: no numpy here, so its own peak (which the kernel carries into every child it
# execs) stays far below any child's
# ================================================================================================

class Runner:
    def __init__(self, args, work):
        self.args, self.work = args, work

    def command(self, name, dry=False, check=False):
        a = self.args
        cmd = [sys.executable, os.path.abspath(__file__), "--child", name, "--work", self.work,
               "--rows", str(a.rows), "--cols", str(a.cols), "--emb-words", str(a.emb_words),
               "--emb-dim", str(a.emb_dim), "--workers", str(a.workers)]
        return cmd + (["--dry"] if dry else []) + (["--check"] if check else [])

    def run(self, cmd, timeout=1800):
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
        lines = [x for x in p.stdout.splitlines() if x.startswith("{")]
        if p.returncode != 0 or not lines:
            tail = (p.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise RuntimeError("exit %d: %s" % (p.returncode, tail))
        return json.loads(lines[-1])


def remove(path):
    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.exists(path):
        os.unlink(path)


PROBE = r"""
import importlib.metadata, importlib.util, json
out = {}
for m in ("numpy", "ndshard", "pandas", "gensim", "matplotlib"):
    try:
        if m in ("numpy", "ndshard"):  # imported: an extension that does not load is absent
            mod = __import__(m)
            out[m] = {"version": getattr(mod, "__version__", "?"), "file": getattr(mod, "__file__", "")}
        elif importlib.util.find_spec(m) is None:  # the others are found, not imported (seconds)
            out[m] = {"error": "No module named '%s'" % m}
        else:
            try:
                out[m] = {"version": importlib.metadata.version(m)}
            except importlib.metadata.PackageNotFoundError:
                out[m] = {"version": "?"}
    except Exception as e:
        out[m] = {"error": (str(e).splitlines() or [type(e).__name__])[0]}
print(json.dumps(out))
"""


def load_average():
    try:
        return open("/proc/loadavg").read().split()[:3]
    except OSError:
        return ["?"] * 3


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem = "%.0f GiB" % (int(line.split()[1]) / 2**20)
    except OSError:
        pass
    return {"cpu": cpu, "nproc": os.cpu_count(), "memory": mem, "kernel": platform.release(),
            "python": platform.python_version()}


def fmt_s(x):
    if x >= 100:
        return "%.0f" % x
    if x >= 10:
        return "%.1f" % x
    if x >= 1:
        return "%.2f" % x
    return "%.3g" % x


def mib(x):
    return "+0" if abs(x) < 0.5 else "%+.0f" % x


def summarize(cases, results, dry):
    """Per case: median/min/max seconds, peak MiB (self + workers), over the dry baseline."""
    rows = {}
    for c in cases:
        runs = results.get(c.name, [])
        if not runs:
            continue
        secs = [r["seconds"] for r in runs]
        peaks = [(r["maxrss_kib"] + r.get("workers_extra_kib", 0)) / 1024 for r in runs]
        base = dry[c.name]["maxrss_kib"] / 1024 if c.name in dry else None
        checked = [r for r in runs if "mismatches" in r]
        exact = "—"
        if checked:
            r = checked[0]
            bad, words = r["mismatches"], r.get("word_mismatches", 0)
            exact = "yes" if bad == 0 and words == 0 else "no: %s values%s differ" % (
                f"{bad:,}", (", %s words" % f"{words:,}") if words else "")
        rows[c.name] = {
            "case": c, "median": statistics.median(secs), "min": min(secs), "max": max(secs),
            "runs": len(secs), "seconds": secs, "peak": max(peaks), "base": base,
            "extra": (max(peaks) - base) if base is not None else None,
            "workers_extra": max(r.get("workers_extra_kib", 0) for r in runs) / 1024,
            "exact": exact, "file_bytes": runs[0].get("file_bytes"), "result": runs[0].get("result", ""),
        }
    for s in rows.values():
        ref = next((rows[c.name] for c in cases if c.task == s["case"].task and c.role == "ref"
                    and c.name in rows), None)
        s["ratio"] = s["median"] / ref["median"] if ref else None
        s["ref"] = ref
    return rows


def table(cases, rows):
    out = ["| task | case | median s (min–max) | peak RSS MiB | over baseline MiB | exact | time / ndshard |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
    for c in cases:
        s = rows.get(c.name)
        if not s:
            continue
        label = "**%s**" % c.label if c.role in ("ref", "ndshard") else c.label
        if c.role == "ref":
            ratio = "1 (reference)"
        elif s["ratio"] is None:
            ratio = "—"
        else:
            ratio = "%.2fx" % s["ratio"]
        spread = "%s (%s–%s)" % (fmt_s(s["median"]), fmt_s(s["min"]), fmt_s(s["max"]))
        if s["runs"] > 3:
            spread += " n=%d" % s["runs"]
        extra = "—" if s["extra"] is None else mib(s["extra"])
        if s["workers_extra"]:
            extra += " (workers %.0f)" % s["workers_extra"]
        out.append("| %s | %s | %s | %.0f | %s | %s | %s |" % (c.task, label, spread, s["peak"], extra,
                                                               s["exact"], ratio))
    return "\n".join(out)


TARGETS = [  # (peer, ndshard, target ratio peer/ndshard, what)
    ("numpy.savetxt", "ndshard.write_text", 25, "text write vs numpy.savetxt"),
    ("numpy.loadtxt", "ndshard.read_text", 15, "text read vs numpy.loadtxt"),
    ("gensim", "ndshard.read_embeddings", 20, "embeddings vs gensim"),
    ("numpy.save", "ndshard.write_npy", 1, "binary write (write_npy) vs numpy.save"),
    ("numpy.save", "ndshard.save.npy", 1, "binary write (save, npy shards) vs numpy.save"),
    ("numpy.load", "ndshard.read_npy", 1, "binary read (read_npy) vs numpy.load"),
    ("numpy.load", "ndshard.load.npy", 1, "binary read (load, npy shards) vs numpy.load"),
    ("recipe.a", "ndshard.write_text", None, "recipe (a) vs write_text"),
    ("recipe.a", "ndshard.save.tsv", None, "recipe (a) vs save (tsv shards)"),
    ("recipe.b", "ndshard.write_text", None, "recipe (b) vs write_text"),
    ("recipe.b", "ndshard.save.tsv", None, "recipe (b) vs save (tsv shards)"),
    ("recipe.c", "ndshard.read_text", None, "recipe (c) vs read_text"),
    ("recipe.c", "ndshard.load.tsv", None, "recipe (c) vs load (tsv shards)"),
    ("pandas.to_csv", "ndshard.write_text", None, "pandas.to_csv vs write_text"),
    ("pandas.read_csv", "ndshard.read_text", None, "pandas.read_csv vs read_text"),
]


def targets_table(rows):
    out = ["| comparison | time: peer / ndshard | per round | target | met | peak RSS: peer / ndshard (MiB) | over baseline: peer vs ndshard (MiB) |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
    for peer, mine, target, what in TARGETS:
        p, m = rows.get(peer), rows.get(mine)
        if not p or not m:
            out.append("| %s | n/a (%s not run) | — | %s | — | — | — |" % (what, peer if not p else mine,
                                                                           "≥ %gx" % target if target else "—"))
            continue
        r = p["median"] / m["median"]
        # the same ratio taken in each round (both ran in it, minutes apart at most), then the median
        rounds = statistics.median(x / y for x, y in zip(p["seconds"], m["seconds"]))
        met = "—" if target is None else ("yes" if r >= target else "**no**")
        mem = "%.2fx (%.0f / %.0f)" % (p["peak"] / m["peak"], p["peak"], m["peak"])
        extra = "—"
        if p["extra"] is not None and m["extra"] is not None:
            extra = "%s vs %s" % (mib(p["extra"]), mib(m["extra"]))
        out.append("| %s | %.2fx | %.2fx | %s | %s | %s | %s |" % (
            what, r, rounds, "≥ %gx" % target if target else "—", met, mem, extra))
    return "\n".join(out)


def chart(cases, rows, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"svg.hashsalt": "ndshard-python-bench", "svg.fonttype": "none",
                         "font.size": 8})
    groups = [(t, [c for c in cases if c.task == t and c.name in rows]) for t in TASKS]
    groups = [(t, cs) for t, cs in groups if cs]
    if not groups:
        return False
    colors = {"ref": "#1f6fb4", "ndshard": "#5aa0d8", "recipe": "#d9822b", "peer": "#8c8c8c"}
    heights = [len(cs) + 0.6 for _, cs in groups]
    fig, axes = plt.subplots(len(groups), 1, figsize=(8.5, 0.26 * sum(heights) + 1.2), sharex=True,
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    lo = min(rows[c.name]["min"] for _, cs in groups for c in cs)
    hi = max(rows[c.name]["max"] for _, cs in groups for c in cs)
    for ax, (task, cs) in zip(axes[:, 0], groups):
        ys = list(range(len(cs)))[::-1]
        med = [rows[c.name]["median"] for c in cs]
        err = [[m - rows[c.name]["min"] for m, c in zip(med, cs)], [rows[c.name]["max"] - m for m, c in zip(med, cs)]]
        ax.barh(ys, med, color=[colors[c.role] for c in cs], xerr=err, error_kw={"elinewidth": 0.7, "capsize": 2},
                height=0.7)
        ax.set_yticks(ys)
        ax.set_yticklabels([c.label for c in cs])
        ax.set_title(task, loc="left", fontsize=9, fontweight="bold")
        for y, c, m in zip(ys, cs, med):
            s = rows[c.name]
            note = fmt_s(m) + " s"
            if c.role != "ref" and s["ratio"]:
                note += "  (%.2gx)" % s["ratio"] if s["ratio"] < 10 else "  (%.0fx)" % s["ratio"]
            ax.text(s["max"] * 1.08, y, note, va="center", fontsize=7)
        ax.set_xscale("log")
        ax.grid(axis="x", which="major", linewidth=0.4, alpha=0.5)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    from matplotlib.patches import Patch
    legend = [("ref", "ndshard (the task's reference)"), ("ndshard", "ndshard, other call"),
              ("recipe", "the study's multiprocess recipes"), ("peer", "numpy, pandas, gensim, Python")]
    fig.legend(handles=[Patch(color=colors[k], label=v) for k, v in legend], loc="lower center",
               ncol=4, fontsize=7, frameon=False)
    axes[-1, 0].set_xlim(lo / 2, hi * 12)
    axes[-1, 0].set_xlabel("seconds, median (bars: min–max), log scale; (Nx): time / ndshard's of the task")
    fig.suptitle(title, fontsize=9, x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0.035, 1, 1))
    kw = {"metadata": {"Date": None}} if path.endswith(".svg") else {"dpi": 110}
    fig.savefig(path, **kw)
    plt.close(fig)
    return True


def parent(args):
    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    started = time.time()
    base = args.dir or ("/dev/shm" if os.path.isdir("/dev/shm") else "/tmp")
    os.makedirs(base, exist_ok=True)
    work = tempfile.mkdtemp(prefix="ndshard-pybench-", dir=base)
    os.makedirs(os.path.join(work, "out"))
    runner = Runner(args, work)
    load_start = load_average()
    try:
        probe = json.loads(subprocess.run([sys.executable, "-c", PROBE], stdout=subprocess.PIPE,
                                          text=True, check=True).stdout)
        if "error" in probe["numpy"]:
            sys.exit("numpy is needed: %s (use /usr/bin/python3)" % probe["numpy"]["error"])
        versions = {m: v.get("version") for m, v in probe.items() if "error" not in v}
        notes = []
        for m, v in probe.items():
            if "error" in v:
                notes.append("skipped: %s not importable (%s)%s" % (
                    m, v["error"], "; PYTHONPATH must name the directory holding the ndshard package"
                    if m == "ndshard" else ""))
                log(notes[-1])
        cases = [c for c in CASES if not args.only or re.search(args.only, c.name)]
        absent = {m for m, v in probe.items() if "error" in v}
        cases = [c for c in cases if not absent.intersection(c.modules)]
        log("work directory %s; %d x %d float64, embeddings %d x %d; %d workers" % (
            work, args.rows, args.cols, args.emb_words, args.emb_dim, args.workers))
        t = time.perf_counter()
        prep_out = subprocess.run([sys.executable, os.path.abspath(__file__), "--prep", "--work", work,
                                   "--rows", str(args.rows), "--cols", str(args.cols),
                                   "--emb-words", str(args.emb_words), "--emb-dim", str(args.emb_dim),
                                   "--workers", str(args.workers)],
                                  stdout=subprocess.PIPE, text=True, check=True).stdout
        made = json.loads(prep_out.splitlines()[-1])
        log("inputs prepared in %.1f s" % (time.perf_counter() - t))
        inputs = {k: {"bytes": tree_bytes(os.path.join(work, k)), "what": v}
                  for k, v in INPUTS.items() if os.path.exists(os.path.join(work, k))}

        results, dry, skipped, failed = {}, {}, {}, {}

        def run_case(c, first):
            if c.name in skipped or c.name in failed:
                return
            if c.output:
                remove(os.path.join(work, "out", c.output.rstrip("/")))
            try:
                line = runner.run(runner.command(c.name, check=first))
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                failed[c.name] = str(e)
                log("FAILED: %s: %s" % (c.name, e))
                return
            if "skipped" in line:
                skipped[c.name] = line["skipped"]
                return
            results.setdefault(c.name, []).append(line)
            log("  %-26s %8.3f s  %6.0f MiB%s" % (c.name, line["seconds"], line["maxrss_kib"] / 1024,
                                                  "" if line.get("mismatches", 0) == 0 else
                                                  "  MISMATCHES %d" % line["mismatches"]))
            if first:
                try:
                    dry[c.name] = runner.run(runner.command(c.name, dry=True))
                except RuntimeError as e:
                    log("no baseline for %s: %s" % (c.name, e))

        for r in range(args.repeat):
            log("round %d of %d" % (r + 1, args.repeat))
            for c in cases:
                run_case(c, r == 0)
        fast = [c for c in cases if c.name in results and results[c.name][0]["seconds"] < 0.5]
        for r in range(args.repeat, args.fast_repeat):
            if not fast:
                break
            log("fast round %d of %d (cases under 0.5 s)" % (r + 1, args.fast_repeat))
            for c in fast:
                run_case(c, False)
        for name, why in skipped.items():
            notes.append("skipped: %s (%s)" % (name, why))
        for name, why in failed.items():
            notes.append("FAILED: %s (%s)" % (name, why))
        load_end = load_average()
        rows = summarize(cases, results, dry)
        minutes = (time.time() - started) / 60
        when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        m = machine()
        head = ("%s; %s, nproc %s, %s memory; Python %s; files in %s; --workers %d (ndshard threads, "
                "recipe processes); median of %d rounds (%d for cases under 0.5 s), round-robin; "
                "load average %s at the start, %s at the end; %.1f minutes." % (
                    when, m["cpu"], m["nproc"], m["memory"], m["python"], base, args.workers,
                    args.repeat, max(args.repeat, args.fast_repeat), load_start[0], load_end[0], minutes))
        vers = ", ".join("%s %s" % (k, v) for k, v in versions.items())
        report = ["## Results", "", head, "", "Versions: " + vers + ".", ""]
        if args.note:
            report += ["Note: " + args.note, ""]
        report += ["Reference array: %s x %s float64 (%.0f MB); embeddings: %s words x %s float32 (%.0f MB)." % (
            f"{args.rows:,}", args.cols, args.rows * args.cols * 8 / 1e6, f"{args.emb_words:,}", args.emb_dim,
            args.emb_words * args.emb_dim * 4 / 1e6), ""]
        report += ["Inputs: " + "; ".join("`%s` %.0f MB (%s)" % (k, v["bytes"] / 1e6, v["what"])
                                          for k, v in inputs.items()) + ".", ""]
        if "write_text_same_as_repr" in made:
            report += ["ndshard.write_text's text is %s Python's repr (first 20,000 rows compared)." % (
                "byte for byte" if made["write_text_same_as_repr"] else "NOT the same as"), ""]
        report += [table(cases, rows), "", targets_table(rows), ""]
        report += ["- " + n for n in notes]
        text = "\n".join(report).rstrip() + "\n"
        print(text)
        parent_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # before matplotlib
        title = ("ndshard's Python calls vs peers: %s x %s float64, embeddings %s x %s float32; "
                 "%s, %d workers" % (f"{args.rows:,}", args.cols, f"{args.emb_words:,}", args.emb_dim,
                                    m["cpu"] + " x%s" % m["nproc"], args.workers))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"chart_title": title, "report": text, "when": when, "machine": m, "versions": versions, "args": vars(args),
                           "load_average": [load_start, load_end], "inputs": inputs, "notes": notes,
                           "prep": made, "parent_maxrss_kib": parent_kib, "dry": dry, "runs": results, "skipped": skipped, "failed": failed,
                           "summary": {k: {x: y for x, y in v.items() if x not in ("case", "ref")}
                                       for k, v in rows.items()}}, f, indent=1)
        if args.chart:
            if "error" in probe.get("matplotlib", {"error": "?"}):
                log("skipped: the chart (matplotlib not importable)")
            elif chart(cases, rows, args.chart, title):
                log("chart: %s" % args.chart)
        # a smoke test fails on a crash or an inexact ndshard result
        bad = [n for n in failed] + [n for n, s in rows.items()
                                     if n.startswith("ndshard.") and s["exact"] not in ("yes", "—")]
        if bad:
            log("FAILED or inexact: " + ", ".join(bad))
            return 1
        return 0
    finally:
        if args.keep:
            log("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--cols", type=int, default=10)
    p.add_argument("--emb-words", type=int, default=100_000)
    p.add_argument("--emb-dim", type=int, default=300)
    p.add_argument("--workers", type=int, default=2, help="ndshard threads and recipe processes (default 2)")
    p.add_argument("--repeat", type=int, default=None, help="rounds (default 3; 1 with --quick)")
    p.add_argument("--fast-repeat", type=int, default=None,
                   help="rounds in all for cases under 0.5 s (default 9; 1 with --quick)")
    p.add_argument("--dir", help="where the files go, in a temporary directory (default /dev/shm, else /tmp)")
    p.add_argument("--quick", action="store_true", help="small sizes, one round: a smoke test")
    p.add_argument("--only", help="run the cases whose name matches this regex")
    p.add_argument("--json", help="write every run and the summary to this file")
    p.add_argument("--chart", help="write a bar chart (.svg or .png) with matplotlib")
    p.add_argument("--replot", metavar="JSON", help="only draw --chart again from a --json file")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--note", help="a line for the report (what else was running)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--prep", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--work", help=argparse.SUPPRESS)
    p.add_argument("--dry", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--check", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.quick:
        args.rows, args.emb_words = min(args.rows, 20_000), min(args.emb_words, 2_000)
    args.repeat = args.repeat if args.repeat is not None else (1 if args.quick else 3)
    args.fast_repeat = args.fast_repeat if args.fast_repeat is not None else (1 if args.quick else 9)
    if args.replot:  # the chart again, from a --json file
        if not args.chart:
            sys.exit("--replot needs --chart")
        with open(args.replot) as f:
            data = json.load(f)
        rows = {k: dict(v, case=BY_NAME[k]) for k, v in data["summary"].items() if k in BY_NAME}
        chart(CASES, rows, args.chart, data["chart_title"])
        return None
    if args.child:
        return child(args)
    if args.prep:
        import numpy as np
        made = prep(args, np, args.work, lambda m: print(m, file=sys.stderr, flush=True))
        print(json.dumps(made))
        return None
    return parent(args)


if __name__ == "__main__":
    sys.exit(main())
