#!/bin/sh
# Runs the bundled benchmark on a real file system: every save fsynced, the files' pages dropped
# before every load (--cold), 7 rounds in shuffled orders, with each row's range printed. The
# files go under $NDSHARD_DISK_DIR, else the machine's temporary directory ($TMPDIR, else
# /var/tmp, which survives reboots and is on disk where /tmp may be tmpfs); a tmpfs there is
# refused, since it would measure memory, not a disk. Extra arguments go to ndshard_bench
# (defaults: --rows 4000000, 320 MB of float64, larger than any readahead, --no-text).
#   bench/disk.sh [build dir] [ndshard_bench options...]
set -eu
build=build
case "${1:-}" in -*|"") ;; *) build=$1; shift ;; esac
bench="$build/bench/ndshard_bench"
[ -x "$bench" ] || { echo "disk.sh: $bench not found: cmake --build $build --target ndshard_bench" >&2; exit 2; }
base=${NDSHARD_DISK_DIR:-${TMPDIR:-/var/tmp}}
fstype=$(stat -f -c %T "$base")
case "$fstype" in
  tmpfs|ramfs) echo "disk.sh: $base is $fstype, not a disk: set NDSHARD_DISK_DIR" >&2; exit 2 ;;
esac
echo "disk.sh: $base ($fstype, $(df -h --output=source "$base" | tail -1)), $(nproc) cores"
exec "$bench" --dir "$base/ndshard_disk" --cold --repeat 7 --rows 4000000 --no-text "$@"
