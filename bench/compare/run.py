#!/usr/bin/python3
"""ndshard against the tools people use today: one table and one chart, from one command.

    /usr/bin/python3 bench/compare/run.py --build build [--repeat 3] [--threads 2] [--dir /dev/shm]
                                          [--out bench/compare/results] [--note TEXT]

Runs every operation of every installed peer on the reference workloads, each in its own process,
round-robin over --repeat rounds (every peer once per round, so the machine's noise hits all of
them alike), and writes compare.md (the table and how it was measured), compare.png (the chart)
and compare.json (every run) to --out. Peers that are not installed are skipped with a line
saying so. See bench/compare/README.md.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MIB = 1 << 20


@dataclass
class Workload:
    key: str
    title: str
    rows: int
    cols: int
    dtype: str  # f8 | f4

    @property
    def itemsize(self):
        return 8 if self.dtype == "f8" else 4

    @property
    def nbytes(self):
        return self.rows * self.cols * self.itemsize


WORKLOADS = [
    Workload("f64", "1,000,000 x 10 float64 (the reference array)", 1_000_000, 10, "f8"),
    Workload("f32", "100,000 x 300 float32 (embedding-shaped)", 100_000, 300, "f4"),
]
CATEGORIES = ["text write", "text read", "binary write", "binary read"]


@dataclass
class Task:
    workload: Workload
    category: str
    label: str             # as the table shows it
    driver: str            # ndshard | xtensor | python:<peer> | R
    op: str
    role: str = "peer"     # ref (the ndshard row ratios are taken against) | ndshard | bound | peer
    input: str = ""        # key of a prepared input (readers)
    output: str = ""       # file name a writer writes (a directory when it ends with /)
    threads: str = "1"     # as the table shows it
    runs: list = field(default_factory=list)
    dry: dict = None
    exact: str = ""
    file_bytes: int = 0
    skipped: str = ""
    failed: str = ""

    @property
    def writer(self):
        return self.category.endswith("write")

    @property
    def name(self):
        return "%s / %s / %s" % (self.workload.key, self.category, self.label)


def tasks_for(w, n):
    """Every operation of every peer on workload `w`, grouped by category, ndshard first."""
    N = str(n)
    T = Task
    return [
        T(w, "text write", "ndshard write_text (one file)", "ndshard", "write_text", "ref", output="out.tsv", threads=N),
        T(w, "text write", "ndshard save (tsv shards)", "ndshard", "save_tsv", "ndshard", output="out.nds/", threads=N),
        T(w, "text write", "numpy.savetxt %.18e", "python:numpy", "savetxt", output="out.tsv"),
        T(w, "text write", "ProcessPoolExecutor + savetxt shards", "python:recipe", "write", output="out.d/", threads=N + " procs"),
        T(w, "text write", "pandas.to_csv", "python:pandas", "to_csv", output="out.tsv"),
        T(w, "text write", "xt::dump_csv", "xtensor", "dump_csv", output="out.csv"),
        T(w, "text write", "data.table fwrite", "R", "fwrite", output="out.tsv", threads=N),
        T(w, "text read", "ndshard read_text (one file)", "ndshard", "read_text", "ref", input="text", threads=N),
        T(w, "text read", "ndshard load (tsv shards)", "ndshard", "load", "ndshard", input="tsv_dataset", threads=N),
        T(w, "text read", "numpy.loadtxt", "python:numpy", "loadtxt", input="text"),
        T(w, "text read", "Process per block + skiprows, concatenate", "python:recipe", "read", input="text", threads=N + " procs"),
        T(w, "text read", "pandas.read_csv", "python:pandas", "read_csv", input="text"),
        T(w, "text read", "xt::load_csv", "xtensor", "load_csv", input="text"),
        T(w, "text read", "data.table fread", "R", "fread", input="text", threads=N),
        T(w, "binary write", "ndshard write_npy (one file)", "ndshard", "write_npy", "ref", output="out.npy", threads=N),
        T(w, "binary write", "ndshard save (npy shards)", "ndshard", "save_npy", "ndshard", output="out.nds/", threads=N),
        T(w, "binary write", "ndshard zarr::save (blosc_lz4, dask's chunks)", "ndshard", "zarr_save_blosc_lz4",
          "ndshard", output="out.zarr/", threads=N),
        T(w, "binary write", "ndshard zarr::save (no codec)", "ndshard", "zarr_save_none", "ndshard",
          output="out.zarr/", threads=N),
        T(w, "binary write", "raw parallel pwrite (bound)", "ndshard", "raw_write", "bound", output="out.bin", threads=N),
        T(w, "binary write", "numpy.save", "python:numpy", "save", output="out.npy"),
        T(w, "binary write", "xt::dump_npy", "xtensor", "dump_npy", output="out.npy"),
        T(w, "binary write", "zarr via dask.to_zarr", "python:zarr", "write", output="out.zarr/", threads=N),
        T(w, "binary read", "ndshard read_npy (one file)", "ndshard", "read_npy", "ref", input="npy", threads=N),
        T(w, "binary read", "ndshard load (npy shards)", "ndshard", "load", "ndshard", input="npy_dataset", threads=N),
        T(w, "binary read", "ndshard load (npy shards, verify=false)", "ndshard", "load_noverify", "ndshard",
          input="npy_dataset", threads=N),
        T(w, "binary read", "ndshard zarr::load (store dask wrote)", "ndshard", "zarr_load", "ndshard",
          input="zarr", threads=N),
        T(w, "binary read", "ndshard zarr::load (no codec)", "ndshard", "zarr_load", "ndshard",
          input="zarr_raw", threads=N),
        T(w, "binary read", "raw parallel pread (bound)", "ndshard", "raw_read", "bound", input="npy", threads=N),
        T(w, "binary read", "raw parallel pread, huge pages (bound)", "ndshard", "raw_read_huge", "bound",
          input="npy", threads=N),
        T(w, "binary read", "numpy.load", "python:numpy", "load", input="npy"),
        T(w, "binary read", "xt::load_npy", "xtensor", "load_npy", input="npy"),
        T(w, "binary read", "zarr via dask.from_zarr", "python:zarr", "read", input="zarr", threads=N),
    ]


class Runner:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.bin = Path(args.build) / "bench" / "compare"
        self.rscript = shutil.which(args.rscript)

    def command(self, driver, op, w, source, inp=None, out=None, dry=False):
        if driver in ("ndshard", "xtensor"):
            cmd = [str(self.bin / ("compare_" + driver))]
        elif driver.startswith("python:"):
            cmd = [self.args.python, str(HERE / "peers.py"), "--peer", driver.split(":")[1]]
        else:
            cmd = [self.rscript, str(HERE / "datatable.R")]
        cmd += ["--op", op, "--dtype", w.dtype, "--threads", str(self.args.threads), "--source", str(source)]
        if inp:
            cmd += ["--input", str(inp)]
        if out:
            cmd += ["--output", str(out)]
        if dry:
            cmd.append("--dry")
        return cmd

    def run(self, cmd, timeout=1800):
        """Runs one driver under compare_spawn; returns (its JSON line, its ru_maxrss in bytes, the
        largest mapped tmpfs part sampled in bytes, stderr)."""
        with tempfile.TemporaryDirectory() as tmp:
            out_path, err_path, report_path = (Path(tmp) / n for n in ("out", "err", "report"))
            with open(out_path, "wb") as out, open(err_path, "wb") as err:
                proc = subprocess.Popen([str(self.bin / "compare_spawn"), str(report_path)] + cmd, stdout=out,
                                        stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, 9)
                    proc.wait()
            text = out_path.read_text(errors="replace").strip().splitlines()
            stderr = err_path.read_text(errors="replace").strip()
            report = json.loads(report_path.read_text()) if report_path.exists() else {}
        line = None
        for candidate in reversed(text):
            try:
                line = json.loads(candidate)
                break
            except ValueError:
                continue
        if proc.returncode != 0 or line is None or not report:
            tail = (stderr or "\n".join(text))[-600:]
            raise RuntimeError("exit status %d: %s" % (proc.returncode, tail))
        return line, report["maxrss_kib"] * 1024, report["shmem_kib"] * 1024, stderr

    def verify(self, w, source, path, driver):
        """Does what a writer wrote give the source back? Returns the mismatch count. Zarr stores
        (dask's and ndshard's) are read back by zarr-python."""
        if driver == "python:zarr" or Path(path).suffix == ".zarr":
            line, *_ = self.run(self.command("python:zarr", "verify", w, source, inp=path))
        else:
            cmd = [str(self.bin / "compare_verify"), "--dtype", w.dtype, "--source", str(source), str(path)]
            line, *_ = self.run(cmd)
        if "error" in line:
            raise RuntimeError(line["error"])
        return line["mismatches"], line["values"]


def tree_bytes(p):
    p = Path(p)
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return p.stat().st_size if p.exists() else 0


def remove(p):
    p = Path(p)
    if p.is_dir():
        shutil.rmtree(p, ignore_errors=True)
    elif p.exists():
        p.unlink()


def exact_text(mismatches, values):
    if mismatches < 0:
        return "—"
    if mismatches == 0:
        return "yes"
    return "no: %s of %s values differ" % (f"{mismatches:,}", f"{values:,}")


# --- preparing the inputs ------------------------------------------------------------------------

def prepare(runner, w, wdir, log):
    """Writes the source array and the inputs every reader of a kind shares. Returns
    {input key: (path, description)} and the source path."""
    wdir.mkdir(parents=True)
    source = wdir / "source.npy"
    rng = np.random.default_rng(20240601)
    a = rng.random((w.rows, w.cols), dtype=np.float64 if w.dtype == "f8" else np.float32)
    np.save(source, a)
    del a
    inputs = {"npy": (source, "`source.npy` (written by numpy.save)")}

    def make(key, driver, op, path, description):
        try:
            line, *_ = runner.run(runner.command(driver, op, w, source, out=path))
        except RuntimeError as e:
            log("cannot prepare %s for %s: %s" % (key, w.key, e))
            return
        if "skipped" in line:
            log("not prepared: %s for %s (%s)" % (key, w.key, line["skipped"]))
            return
        mismatches, values = runner.verify(w, source, path, driver)
        if mismatches:
            log("WARNING: the shared input %s is not exact: %s" % (path.name, exact_text(mismatches, values)))
        inputs[key] = (path, description + ", %.0f MB" % (tree_bytes(path) / 1e6))

    make("text", "ndshard", "write_text", wdir / "text.tsv",
         "`text.tsv` (ndshard write_text: shortest round-trip, tab-separated)")
    make("tsv_dataset", "ndshard", "save_tsv", wdir / "text.nds",
         "`text.nds` (ndshard save, tsv shards)")
    make("npy_dataset", "ndshard", "save_npy", wdir / "npy.nds", "`npy.nds` (ndshard save, npy shards)")
    make("zarr", "python:zarr", "write", wdir / "source.zarr", "`source.zarr` (dask.to_zarr, zarr defaults)")
    make("zarr_raw", "ndshard", "zarr_save_none", wdir / "raw.zarr",
         "`raw.zarr` (ndshard zarr::save, no compressor, dask's chunks)")
    path, desc = inputs["npy"]
    inputs["npy"] = (path, desc + ", %.0f MB" % (tree_bytes(path) / 1e6))
    return inputs, source


# --- running -----------------------------------------------------------------------------------

def run_task(runner, task, source, inputs, wdir, first_round, log):
    w = task.workload
    if task.input and task.input not in inputs:
        task.skipped = "its input (%s) could not be prepared" % task.input
        return
    if task.driver == "R" and not runner.rscript:
        task.skipped = "Rscript not installed (r-cran-data.table)"
        return
    inp = inputs[task.input][0] if task.input else None
    out = wdir / task.output.rstrip("/") if task.output else None
    if out is not None:
        remove(out)
    try:
        line, maxrss, mapped, _ = runner.run(runner.command(task.driver, task.op, w, source, inp, out))
    except RuntimeError as e:
        task.failed = str(e)
        log("FAILED: %s: %s" % (task.name, e))
        return
    if "skipped" in line:
        task.skipped = line["skipped"]
        if task.driver == "ndshard":  # e.g. compressed zarr stores without ndshard::zarr's codecs
            log("skipped: %s (%s)" % (task.name, task.skipped))
        return
    task.runs.append({"seconds": line["seconds"], "maxrss": maxrss, "mapped": mapped, "line": line})
    if first_round:
        if task.role == "bound":  # raw bytes, no format to read back
            task.file_bytes = tree_bytes(out if task.writer else inp)
            task.exact = "—"
        elif task.writer:
            task.file_bytes = tree_bytes(out)
            try:
                task.exact = exact_text(*runner.verify(w, source, out, task.driver))
            except RuntimeError as e:
                task.exact = "cannot read back: " + str(e)[:120]
        else:
            task.file_bytes = tree_bytes(inp)
        try:
            dry, dry_maxrss, dry_mapped, _ = runner.run(
                runner.command(task.driver, task.op, w, source, inp, out, dry=True))
        except RuntimeError as e:
            task.failed = "its --dry baseline: " + str(e)
            log("FAILED: %s --dry: %s" % (task.name, e))
            return
        task.dry = {"maxrss": dry_maxrss, "mapped": dry_mapped, "line": dry}
    if not task.writer and task.role != "bound":
        task.exact = exact_text(max(r["line"]["mismatches"] for r in task.runs), line["values"])
    if out is not None:
        remove(out)


def extra_memory(task):
    """Median peak memory beyond the --dry baseline (and beyond the array, for a reader), in
    bytes, and the part of it that was pages of mapped files."""
    extras, mapped = [], []
    for r in task.runs:
        line = r["line"]
        if "children_extra_bytes" in line:  # a process tree: parent's own peak + what workers added
            e = (line["self_maxrss_kib"] - task.dry["line"]["self_maxrss_kib"]) * 1024 + line["children_extra_bytes"]
        else:
            e = r["maxrss"] - task.dry["maxrss"]
        if not task.writer:
            e -= task.workload.nbytes
        extras.append(e)
        mapped.append(max(0, r["mapped"] - task.dry["mapped"]))
    return statistics.median(extras), statistics.median(mapped)


# --- reporting ---------------------------------------------------------------------------------

def machine_info(args):
    info = {"cores": os.cpu_count(), "cpu": platform.processor() or platform.machine()}
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            if m:
                info["cpu"] = m.group(1).strip()
        with open("/proc/meminfo") as f:
            info["memory_gib"] = round(int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1)) / (1 << 20), 1)
    except (OSError, AttributeError):
        pass
    # the file system --dir is on
    best = ("", "?")
    try:
        d = str(Path(args.dir).resolve())
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                mnt = parts[1]
                if (d == mnt or d.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best[0]):
                    best = (mnt, parts[2])
    except OSError:
        pass
    info["storage"] = "%s (%s)" % (args.dir, best[1])
    info["kernel"] = platform.release()
    return info


def versions(runner):
    pkgs = ["python3-numpy", "python3-pandas", "python3-dask", "python3-zarr", "r-cran-data.table",
            "xtensor-dev", "libfast-float-dev", "libdragonbox-dev"]
    out = {}
    try:
        text = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version} ${Status}\n"] + pkgs,
                              capture_output=True, text=True).stdout
        for line in text.splitlines():
            parts = line.split()
            if len(parts) >= 2 and line.endswith("installed") and "not-installed" not in line:
                out[parts[0]] = parts[1]
    except OSError:
        pass
    try:
        cache = (Path(runner.args.build) / "CMakeCache.txt").read_text()
        cxx = re.search(r"CMAKE_CXX_COMPILER:\w+=(.*)", cache).group(1)
        out["c++"] = subprocess.run([cxx, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        out["build type"] = re.search(r"CMAKE_BUILD_TYPE:\w+=(.*)", cache).group(1) or "(none)"
    except (OSError, AttributeError, IndexError):
        pass
    return out


FAST_SECONDS = 0.5


def rounds_text(args):
    if args.fast_repeat <= args.repeat:
        return "%d rounds" % args.repeat
    return "%d rounds (%d for operations under %g s)" % (args.repeat, args.fast_repeat, FAST_SECONDS)


def fmt_seconds(s):
    """Three significant digits: 0.0430, 2.50, 12.3, 123."""
    return "%#.3g" % s if s < 100 else "%.0f" % s


def table_rows(tasks):
    rows = []
    by_key = {}
    for t in tasks:
        if t.runs:
            by_key.setdefault((t.workload.key, t.category), {})[t.role if t.role == "ref" else t.label] = t
    for t in tasks:
        if not t.runs:
            continue
        med = statistics.median(r["seconds"] for r in t.runs)
        ref = by_key.get((t.workload.key, t.category), {}).get("ref")
        if t.role == "ref":
            ratio = "1 (reference)"
        elif ref is None:
            ratio = "n/a (no ndshard run)"
        elif t.role == "bound":
            ratio = "ndshard reaches %.2f of it" % (med / statistics.median(r["seconds"] for r in ref.runs))
        else:
            ratio = "%.2f" % (med / statistics.median(r["seconds"] for r in ref.runs))
        extra, mapped = extra_memory(t)
        mem = "%.0f" % max(0.0, extra / MIB)  # a MiB or two below the baseline is noise
        if mapped >= 8 * MIB:
            mem += " (mapped file: %.0f)" % (mapped / MIB)
        name = "**%s**" % t.label if t.role in ("ref", "ndshard") else t.label
        rows.append((t, [t.category, name, t.threads, fmt_seconds(med), "%.0f" % (t.workload.nbytes / 1e6 / med),
                         mem, t.exact, "%.0f" % (t.file_bytes / 1e6), ratio]))
    return rows


HEADER = ["operation", "tool", "threads", "seconds (median)", "MB/s (array)", "peak extra MiB",
          "exact round trip", "file MB", "time / ndshard"]


def zarr_ratios(ws):
    """'write 2.1 (...), read 3.4 (...)': dask's median seconds over ndshard's same zarr operation."""
    def med(label, category):
        for t in ws:
            if t.label == label and t.category == category and t.runs:
                return statistics.median(r["seconds"] for r in t.runs)
        return None
    parts = []
    for category, dask, mine in (("binary write", "zarr via dask.to_zarr", "ndshard zarr::save (blosc_lz4, dask's chunks)"),
                                 ("binary read", "zarr via dask.from_zarr", "ndshard zarr::load (store dask wrote)")):
        d, m = med(dask, category), med(mine, category)
        if d is not None and m is not None:
            parts.append("%s %.2f (%s s / %s s)" % (category.split()[1], d / m, fmt_seconds(d), fmt_seconds(m)))
    return ", ".join(parts)


def markdown(args, info, vers, tasks, inputs, log_lines, started, took):
    out = []
    out.append("# ndshard against its peers\n")
    out.append("%s UTC; %d cores (%s), %.0f GiB memory, files in %s; %d thread(s) for every parallel tool; "
               "median of %s, run round-robin.\n" % (
                   started.strftime("%Y-%m-%d %H:%M"), info["cores"], info.get("cpu", "?"),
                   info.get("memory_gib", 0), info["storage"], args.threads, rounds_text(args)))
    load = "load average %.2f at the start, %.2f at the end" % (args.load_start, os.getloadavg()[0])
    out.append("Machine state: %s%s. The whole comparison took %.1f minutes.\n" % (
        load, ("; " + args.note) if args.note else "", took / 60))
    for w in WORKLOADS_RUN:
        ws = [t for t in tasks if t.workload is w]
        out.append("\n## %s, %.0f MB in memory\n" % (w.title, w.nbytes / 1e6))
        ins = inputs.get(w.key, {})
        out.append("What the readers read (the same input for every reader of its kind):\n")
        for key, what in (("text", "text readers"), ("tsv_dataset", "ndshard load (tsv shards)"),
                          ("npy", "binary readers"), ("npy_dataset", "ndshard load (npy shards)"),
                          ("zarr", "zarr readers (dask, ndshard zarr::load)"),
                          ("zarr_raw", "ndshard zarr::load (no codec)")):
            out.append("- %s: %s" % (what, ins[key][1] if key in ins else "not prepared"))
        out.append("")
        out.append("| " + " | ".join(HEADER) + " |")
        out.append("|" + "|".join(" --- " for _ in HEADER) + "|")
        for _, cells in table_rows(ws):
            out.append("| " + " | ".join(cells) + " |")
        ratios = zarr_ratios(ws)
        if ratios:
            out.append("")
            out.append("zarr, dask's seconds / ndshard's (same store format, compressor and chunks): " + ratios + ".")
        skipped = [t for t in ws if t.skipped or t.failed]
        if skipped:
            out.append("")
            for t in skipped:
                out.append("- skipped: %s (%s)" % (t.label + " / " + t.category,
                                                   t.skipped or "failed: " + t.failed[:200]))
    out.append("\n## How this was measured\n")
    out.append(
        "- **seconds**: measured inside each tool's own process around the operation alone: a writer's array is "
        "loaded before the clock starts, a reader's result is checked after it stops. Every operation runs in a "
        "fresh process; the rounds run every tool once, in the same order, so noise spreads over all of them. "
        "Median of %s.\n"
        "- **MB/s (array)**: the array's size in memory divided by the seconds, so text and binary, lossy and "
        "exact tools are compared on the same job.\n"
        "- **peak extra MiB**: the process's peak resident memory (`ru_maxrss` from `wait4`, taken by a small "
        "parent, `compare_spawn`, since Linux carries the peak of the process that calls exec into the new "
        "program's) minus that of the "
        "same command run with `--dry` (same interpreter or program, same imports, the source array loaded for a "
        "writer, but no operation); for a reader the array's own size is subtracted too, so 0 means nothing beyond "
        "the array it returns (a figure a MiB or two below 0 is noise, shown as 0). For the classic Python recipe, which runs worker processes, it is the parent's own "
        "peak above its baseline plus, for each worker, its peak minus its size when it started (wait4 sees only "
        "the largest process of a tree). Where the tool maps its input file, the file's resident pages count in "
        "`ru_maxrss` though they belong to the page cache (tmpfs here), not to the tool: the largest mapped "
        "tmpfs part seen (`RssShmem`, sampled every 5 ms by `compare_spawn`; it need not coincide with the peak) is shown in "
        "brackets.\n"
        "- **exact round trip**: a reader's result is compared bit for bit with the source array; a writer's "
        "file is parsed back with a correctly rounded parser (fast_float; .npy and zarr read directly) and "
        "compared bit for bit.\n"
        "- **time / ndshard**: the tool's median seconds divided by those of ndshard's one-file operation of the "
        "same kind (above 1: ndshard is faster). For the raw pwrite/pread rows, the hardware's bound, it is the "
        "inverse: the fraction of the bound's speed that ndshard reaches (the project's target is at least 0.8).\n"
        "- numpy.savetxt, numpy.loadtxt, numpy.save/load, pandas and xtensor's functions are single-threaded; the "
        "others use the thread count shown (data.table: `setDTthreads(N)`; dask: threaded scheduler with N "
        "workers, ~8 MiB chunks, zarr's default Blosc-LZ4 compressor).\n"
        "- ndshard's zarr rows: `zarr::save` writes a zarr v2 store with the chunks dask gets here (peers.py "
        "`chunk_rows`) and, for the blosc_lz4 row, dask's compressor (Blosc-LZ4, clevel 5, byte shuffle; the no "
        "codec row stores chunks uncompressed); like `save` it fsyncs (cheap on tmpfs), dask does not. "
        "`zarr::load` reads the store dask wrote (the no codec row: one ndshard wrote uncompressed). Their "
        "stores are read back by zarr-python.\n" % rounds_text(args))
    if vers:
        out.append("Versions: " + "; ".join("%s %s" % kv for kv in vers.items()) + ".\n")
    if log_lines:
        out.append("\nNotes from the run:\n")
        out.extend("- " + line for line in log_lines)
    return "\n".join(out) + "\n"


def chart(path, args, info, tasks, started):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch
    except ImportError:
        return "matplotlib is not installed (python3-matplotlib): no chart"
    ws = WORKLOADS_RUN
    fig, axes = plt.subplots(len(ws), len(CATEGORIES), figsize=(22, 4.6 * len(ws)), squeeze=False)
    colors = {"ref": "#1f5fa8", "ndshard": "#5b8fd0", "bound": "#9a9a9a", "peer": "#e08a2c"}
    for i, w in enumerate(ws):
        for j, cat in enumerate(CATEGORIES):
            ax = axes[i][j]
            ts = [t for t in tasks if t.workload is w and t.category == cat and t.runs]
            secs = [statistics.median(r["seconds"] for r in t.runs) for t in ts]
            y = list(range(len(ts)))[::-1]
            bars = ax.barh(y, secs, color=[colors[t.role] for t in ts],
                           hatch=None, edgecolor="black", linewidth=0.4)
            for bar, t, s in zip(bars, ts, secs):
                if t.exact.startswith("no"):
                    bar.set_hatch("///")
                ax.text(s * 1.08, bar.get_y() + bar.get_height() / 2, fmt_seconds(s) + " s",
                        va="center", fontsize=8)
            gone = [t.label + ": " + (t.skipped or "failed") for t in tasks
                    if t.workload is w and t.category == cat and not t.runs]
            ax.set_yticks(y)
            ax.set_yticklabels([t.label for t in ts], fontsize=8)
            ax.set_xscale("log")
            if secs:
                ax.set_xlim(min(secs) / 2, max(secs) * 4)
            else:
                ax.text(0.5, 0.5, "nothing ran", ha="center", transform=ax.transAxes)
            ax.set_title("%s x %s %s: %s" % (f"{w.rows:,}", w.cols, "float64" if w.dtype == "f8" else "float32",
                                               cat), fontsize=10)
            ax.set_xlabel("\n".join(["seconds (log scale, lower is better)"] + ["not run: " + g for g in gone]),
                          fontsize=8)
            ax.grid(axis="x", which="both", alpha=0.25)
    legend = [Patch(facecolor=colors["ref"], label="ndshard (reference op)"),
              Patch(facecolor=colors["ndshard"], label="ndshard (shards, zarr)"),
              Patch(facecolor=colors["bound"], label="raw pwrite/pread bound"),
              Patch(facecolor=colors["peer"], label="peer"),
              Patch(facecolor="white", edgecolor="black", hatch="///", label="not exact")]
    fig.legend(handles=legend, loc="lower center", ncol=5, fontsize=9)
    fig.suptitle("ndshard vs peers, %s: %d cores, %.0f GiB, %s, %d threads, median of %s" % (
        started.strftime("%Y-%m-%d"), info["cores"], info.get("memory_gib", 0), info["storage"],
        args.threads, rounds_text(args)), fontsize=12)
    fig.tight_layout(rect=(0, 0.05, 1, 0.96))
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return None


WORKLOADS_RUN = WORKLOADS


def main():
    global WORKLOADS_RUN
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default="build", help="CMake build directory with target compare_drivers built")
    p.add_argument("--dir", default="/dev/shm", help="where the files go (default /dev/shm, tmpfs)")
    p.add_argument("--repeat", type=int, default=3, help="rounds; medians are reported (default 3)")
    p.add_argument("--fast-repeat", type=int, default=9,
                   help="rounds in all for operations under %g s in the first round (default 9)" % FAST_SECONDS)
    p.add_argument("--threads", type=int, default=2, help="threads for every parallel tool (default 2)")
    p.add_argument("--out", default=str(HERE / "results"), help="where compare.md/.png/.json go")
    p.add_argument("--workloads", default="f64,f32", help="comma-separated: f64, f32")
    p.add_argument("--scale", type=float, default=1.0, help="multiplies the rows (quick trials)")
    p.add_argument("--only", default="", help="regex on 'workload / category / tool' (trials)")
    p.add_argument("--note", default="", help="free text for the report, e.g. what else ran")
    p.add_argument("--python", default="/usr/bin/python3", help="interpreter of the Python peers")
    p.add_argument("--rscript", default="Rscript")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    args = p.parse_args()
    args.load_start = os.getloadavg()[0]
    started = datetime.datetime.now(datetime.timezone.utc)
    t_start = time.monotonic()

    def log(msg):
        print(msg, file=sys.stderr, flush=True)
        log_lines.append(msg)
    log_lines = []

    runner = Runner(args, None)
    for exe in ("compare_ndshard", "compare_xtensor", "compare_verify", "compare_spawn"):
        if not (runner.bin / exe).exists():
            sys.exit("%s not found: build it first (cmake --build %s --target compare_drivers)" % (
                runner.bin / exe, args.build))
    vers = versions(runner)
    if vers.get("build type", "Release") not in ("Release", "RelWithDebInfo"):
        log("WARNING: %s is a '%s' build, not Release: ndshard's figures are not representative" % (
            args.build, vers.get("build type")))

    keys = args.workloads.split(",")
    WORKLOADS_RUN = []
    for w in WORKLOADS:
        if w.key in keys:
            WORKLOADS_RUN.append(Workload(w.key, w.title if args.scale == 1 else w.title + " x%g rows" % args.scale,
                                          max(1, int(w.rows * args.scale)), w.cols, w.dtype))
    only = re.compile(args.only) if args.only else None
    tasks = [t for w in WORKLOADS_RUN for t in tasks_for(w, args.threads) if not only or only.search(t.name)]

    work = Path(args.dir) / ("ndshard-compare-%d" % os.getpid())
    inputs, sources = {}, {}
    try:
        for w in WORKLOADS_RUN:
            print("preparing %s ..." % w.key, file=sys.stderr, flush=True)
            inputs[w.key], sources[w.key] = prepare(runner, w, work / w.key, log)
        rounds = max(args.repeat, args.fast_repeat)
        for rnd in range(rounds):
            for t in tasks:
                if t.skipped or t.failed:
                    continue
                # quick operations get extra rounds (among themselves, still round-robin): a few
                # milliseconds of noise would otherwise decide their ratios
                if rnd >= args.repeat and (not t.runs or t.runs[0]["seconds"] >= FAST_SECONDS):
                    continue
                print("round %d/%d: %s" % (rnd + 1, rounds, t.name), file=sys.stderr, flush=True)
                run_task(runner, t, sources[t.workload.key], inputs[t.workload.key], work / t.workload.key,
                         rnd == 0, log)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    took = time.monotonic() - t_start

    info = machine_info(args)
    outdir = Path(args.out)
    outdir.mkdir(parents=True, exist_ok=True)
    report = markdown(args, info, vers, tasks, inputs, log_lines, started, took)
    problem = chart(outdir / "compare.png", args, info, tasks, started)
    if problem:
        report += "\n" + problem + "\n"
    (outdir / "compare.md").write_text(report)
    raw = {"started": started.isoformat(), "seconds_total": took, "machine": info, "versions": vers,
           "args": {k: v for k, v in vars(args).items()},
           "tasks": [{"workload": t.workload.key, "category": t.category, "tool": t.label, "op": t.op,
                      "driver": t.driver, "role": t.role, "runs": t.runs, "dry": t.dry, "exact": t.exact,
                      "file_bytes": t.file_bytes, "skipped": t.skipped, "failed": t.failed} for t in tasks]}
    (outdir / "compare.json").write_text(json.dumps(raw, indent=1, default=str))
    print(report)
    print("wrote %s, %s and %s" % (outdir / "compare.md", outdir / "compare.png", outdir / "compare.json"))
    return 1 if any(t.failed for t in tasks) else 0


if __name__ == "__main__":
    sys.exit(main())
