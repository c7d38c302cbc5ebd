#!/bin/sh
# `ndshard convert` against the library calls it stands for, on the reference array (1,000,000 x 10
# float64 uniform in [0, 1), as TSV): text -> npy shards (read_text + save) and npy shards -> one
# text file (load + write_text), both with the same threads, in /dev/shm (or $NDSHARD_BENCH_DIR).
# Runs interleaved, REPS (3) times; prints each run's seconds and peak RSS, then the medians,
# ranges and ratios (library seconds / convert seconds: 1.0 = as fast, above: convert is faster).
#   bench/convert_bench.sh [build dir] [threads] [rows]
set -eu
build=${1:-build}
threads=${2:-$(nproc)}
rows=${3:-1000000}
reps=${REPS:-3}
tool="$build/tools/ndshard"
peer="$build/bench/ndshard_convert_peer"
for x in "$tool" "$peer"; do
  [ -x "$x" ] || { echo "convert_bench.sh: $x not found (build the project first)" >&2; exit 2; }
done
dir=${NDSHARD_BENCH_DIR:-/dev/shm}/ndshard_convert_bench.$$
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT
out="$dir/results"
echo "convert_bench.sh: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $threads threads, $rows x 10 float64, in $(dirname "$dir")"
"$peer" gen "$dir/ref.tsv" "$rows" 10
echo "reference text: $(stat -c %s "$dir/ref.tsv") bytes"
# one timed run: name, command...; appends "name seconds peak_kib"
run() {
  name=$1; shift
  /usr/bin/time -f "%e %M" -o "$dir/time" "$@" >/dev/null
  set -- $(cat "$dir/time")
  echo "$name $1 $2" | tee -a "$out"
}
i=0
while [ "$i" -lt "$reps" ]; do
  rm -rf "$dir/a.nds" "$dir/b.nds" "$dir/a.tsv" "$dir/b.tsv"
  run text2npy.convert "$tool" convert "$dir/ref.tsv" "$dir/a.nds" --threads "$threads" --no-progress
  run text2npy.library "$peer" text2npy "$dir/ref.tsv" "$dir/b.nds" "$threads"
  run npy2text.library "$peer" npy2text "$dir/b.nds" "$dir/b.tsv" "$threads"
  run npy2text.convert "$tool" convert "$dir/a.nds" "$dir/a.tsv" --threads "$threads" --no-progress
  cmp -s "$dir/a.tsv" "$dir/ref.tsv" || { echo "convert_bench.sh: the round trip is not exact" >&2; exit 1; }
  cmp -s "$dir/b.tsv" "$dir/ref.tsv" || { echo "convert_bench.sh: the library round trip is not exact" >&2; exit 1; }
  i=$((i + 1))
done
echo "== medians (min-max), peak RSS"
awk '
  { t[$1] = t[$1] " " $2; m[$1] = ($3 > m[$1] ? $3 : m[$1]) }
  END {
    for (k in t) {
      n = split(substr(t[k], 2), v, " ")
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { x = v[i]; v[i] = v[j]; v[j] = x }
      med[k] = v[int((n + 1) / 2)]
      printf "%-18s %6.2f s (%.2f-%.2f)  %5.0f MiB\n", k, med[k], v[1], v[n], m[k] / 1024
    }
    for (d in med) if (d ~ /\.convert$/) {
      b = d; sub(/\.convert$/, "", b)
      printf "%s: convert at %.2fx the library calls (library median / convert median)\n", b, med[b ".library"] / med[d]
    }
  }' "$out" | sort
