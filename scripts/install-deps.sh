#!/bin/sh
# Installs, from Debian's packages, whatever ndshard's build, tests and benchmarks need and this
# machine lacks. Quiet when everything is there; needs root (or sudo) only when something is missing.
#   scripts/install-deps.sh           build + tests + benchmarks (with the zarr codec libraries and
#                                     zarr-python, numcodecs and Dask, which the interop tests run,
#                                     and OpenMPI, which the MPI tests run)
#   scripts/install-deps.sh --peers   also the optional peers the comparison benchmark measures
#   scripts/install-deps.sh --ci      also what .ci/run needs beyond the quick start: clang and
#                                     its sanitizer/libFuzzer runtimes, llvm-symbolizer
# (options combine)
set -eu
pkgs="cmake make g++ pkg-config xtensor-dev xtl-dev catch2 libbenchmark-dev libfast-float-dev libdragonbox-dev
      nlohmann-json3-dev libxxhash-dev python3 python3-numpy
      libzstd-dev libblosc-dev zlib1g-dev python3-zarr python3-numcodecs python3-dask
      libopenmpi-dev openmpi-bin libcli11-dev pybind11-dev python3-pybind11 python3-dev python3-pytest"
for opt in "$@"; do
  case "$opt" in
    --peers) pkgs="$pkgs python3-pandas r-cran-data.table python3-matplotlib" ;;
    --ci) pkgs="$pkgs clang libclang-rt-14-dev llvm" ;;
    *) echo "install-deps.sh: unknown option $opt (known: --peers, --ci)" >&2; exit 2 ;;
  esac
done
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
