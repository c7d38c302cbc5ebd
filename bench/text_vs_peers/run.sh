#!/usr/bin/env bash
# ndshard's text engine against data.table fread/fwrite and numpy loadtxt/savetxt, side by side
# in one run, on the reference array (1,000,000 x 10 float64 uniform in [0, 1)) written as
# tab-separated shortest round-trip text in /dev/shm. Every round runs every operation once,
# interleaved, so that noise from other work on the machine hits all of them alike; the table
# gives medians and the ratios of medians.
#   bench/text_vs_peers/run.sh [rounds=5] [threads=2] [rows=1000000]
# Needs g++, Debian's python3-numpy and r-cran-data.table (scripts/install-deps.sh --peers).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}
threads=${2:-2}
rows=${3:-1000000}
work=$(mktemp -d /dev/shm/ndshard-text-peers.XXXXXX)
trap 'rm -rf "$work"' EXIT
here=bench/text_vs_peers

dragonbox=$(ls -d /usr/include/dragonbox-* | sort -V | tail -n 1)  # Debian's libdragonbox-dev
g++ -O2 -std=c++17 -I include -isystem "$dragonbox" "$here/text_bench.cpp" -o "$work/text_bench" -pthread
/usr/bin/python3 -c "
import numpy as np
np.save('$work/ref.npy', np.random.default_rng(42).random(($rows, 10)))"
# the shared input: the reference array as ndshard writes it (shortest round-trip, tabs)
"$work/text_bench" write "$work/ref.npy" "$work/ref.tsv" "$threads" >/dev/null
echo "reference: $rows x 10 float64, $(stat -c %s "$work/ref.tsv") bytes of text, $threads threads, $rounds rounds" >&2

log="$work/times"
for ((r = 1; r <= rounds; r++)); do
  "$work/text_bench" read "$work/ref.npy" "$work/ref.tsv" "$threads" >>"$log"
  "$work/text_bench" write "$work/ref.npy" "$work/out.tsv" "$threads" >>"$log"
  Rscript "$here/peers.R" read "$work/ref.tsv" "$work/out.tsv" >>"$log"
  Rscript "$here/peers.R" write "$work/ref.tsv" "$work/out.tsv" >>"$log"
  /usr/bin/python3 "$here/peers.py" read "$work/ref.npy" "$work/ref.tsv" "$work/out.tsv" >>"$log"
  /usr/bin/python3 "$here/peers.py" write "$work/ref.npy" "$work/ref.tsv" "$work/out.tsv" >>"$log"
  echo "round $r done" >&2
done

/usr/bin/python3 - "$log" <<'PY'
import statistics, sys
wall, cpu, mem = {}, {}, {}
for line in open(sys.argv[1]):
    f = line.split()
    wall.setdefault(f[1], []).append(float(f[2]))
    cpu.setdefault(f[1], []).append(float(f[3]))
    if len(f) > 4:
        mem.setdefault(f[1], []).append(float(f[4]))
med = lambda d, k: statistics.median(d[k])
print("| operation | wall s (median) | wall s, every round | CPU s (median) | ndshard faster, wall | same, per-round median |")
print("| --- | --- | --- | --- | --- | --- |")
for op, ours in [("read_text", None), ("fread", "read_text"), ("loadtxt", "read_text"),
                 ("write_text", None), ("fwrite", "write_text"), ("savetxt", "write_text")]:
    ratio = per_round = ""
    if ours:
        ratio = f"{med(wall, op) / med(wall, ours):.2f}x"
        per_round = f"{statistics.median(p / q for p, q in zip(wall[op], wall[ours])):.2f}x"
    rounds = " ".join(f"{t:.3f}" for t in wall[op])
    print(f"| {op} | {med(wall, op):.3f} | {rounds} | {med(cpu, op):.3f} | {ratio} | {per_round} |")
for op in ("read_text", "write_text"):
    print(f"{op}: peak extra anonymous memory {max(mem[op]):.1f} MiB")
PY
