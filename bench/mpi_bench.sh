#!/bin/sh
# ndshard::mpi against the single-process threaded path, on one machine: ranks x threads layouts
# 1x2, 2x1 and 4x1 (oversubscribed on 2 cores) of ndshard_mpi_bench, and the single process with
# 2 threads, on a tmpfs (/dev/shm) and on a disk ($NDSHARD_DISK_DIR, else /var/tmp). Prints each
# run's medians and ranges, then a table of ratios: single-process median / MPI median (above 1:
# the MPI layout is faster). On one 2-core machine this shows what MPI costs, not cluster speed.
#   bench/mpi_bench.sh [build dir] [ndshard_mpi_bench options...]
set -eu
build=build
case "${1:-}" in -*|"") ;; *) build=$1; shift ;; esac
bench="$build/bench/ndshard_mpi_bench"
[ -x "$bench" ] || { echo "mpi_bench.sh: $bench not found (needs MPI: libopenmpi-dev openmpi-bin)" >&2; exit 2; }
# --bind-to none: OpenMPI binds each rank to one core by default when there are 2 ranks or
# fewer, which would run a rank's threads (and the single process's) on one core
mpirun="mpirun --allow-run-as-root --oversubscribe --bind-to none"
disk=${NDSHARD_DISK_DIR:-/var/tmp}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "mpi_bench.sh: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(mpirun --version | head -1)"
for fs in /dev/shm "$disk"; do
  echo "== $fs ($(stat -f -c %T "$fs"))"
  for layout in single:1:2 mpi:1:2 mpi:2:1 mpi:4:1; do
    kind=${layout%%:*}; rest=${layout#*:}; np=${rest%%:*}; threads=${rest#*:}
    if [ "$kind" = single ]; then
      args="--single"; name="single 1x$threads"
    else
      args=""; name="mpi ${np}x$threads"
    fi
    $mpirun -np "$np" "$bench" --dir "$fs/ndshard_mpi_bench" --threads "$threads" $args "$@" |
      tee /dev/stderr | awk -v fs="$fs" -v name="$name" '$1 == "RESULT" { print fs, name, $2, $3, $4, $5 }' >>"$out"
  done
done 2>&1 | grep -v '^RESULT'
echo
echo "median seconds [min-max], and single 1x2 / this (above 1: faster than one process with 2 threads)"
# fields: file system, kind, layout, operation, median, min, max, MB/s
awk '
  $2 == "single" { base[$1 SUBSEP $4] = $5 }
  { rows[NR] = $0 }
  END {
    for (i = 1; i <= NR; ++i) {
      split(rows[i], f, " ")
      op = f[4]; sub(/_collective$/, "", op)
      printf "%-10s %-6s %-4s %-21s %8.4f [%.4f-%.4f]  %6.2fx\n", f[1], f[2], f[3], f[4], f[5], f[6], f[7], base[f[1] SUBSEP op] / f[5]
    }
  }' "$out"
