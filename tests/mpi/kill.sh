#!/bin/sh
# A rank killed mid-save: mpirun must abort, and the dataset saved before must load whole.
#   kill.sh MPIRUN TEST_MPI DIR RANKS [MPIRUN FLAGS...]
set -u
mpirun=$1 test=$2 dir=$3 np=$4
shift 4
rm -rf "$dir"
if "$mpirun" "$@" -np "$np" "$test" kill "$dir"; then
  echo "kill.sh: mpirun exited 0 though a rank was killed" >&2
  exit 1
fi
echo "kill.sh: mpirun aborted, as it must; checking the dataset saved before" >&2
"$mpirun" "$@" -np 1 "$test" check-old "$dir" || exit 1
rm -rf "$dir"
