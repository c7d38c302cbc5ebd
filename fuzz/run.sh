#!/usr/bin/env bash
# Builds ndshard's libFuzzer targets with clang (ASan + UBSan) and runs each for a bounded time
# from its committed seed corpus (fuzz/corpus/<target>, which this script never modifies).
# Exits non-zero on any crash, leak, timeout, out-of-memory or sanitizer report; the input that
# caused it is kept in <build>/fuzz-artifacts/<target>/.
# Size claims (a size read from a header or a first line and trusted for an allocation) are
# findings too: each target aborts on one allocation beyond max(1 MiB, 64 x its input's size)
# (fuzz/alloc_limit.hpp), and libFuzzer itself on any malloc of 64 MiB or more (-malloc_limit_mb,
# also outside the hook's reach) and on a resident set beyond 1 GiB (-rss_limit_mb). Inputs are at
# most 8192 bytes, whose correct reads allocate a few hundred KiB at most; the resident set is
# ASan's shadow and quarantine (about 370 MB after 60 s of fuzz_text, and flat by then).
#   fuzz/run.sh                       every target, 60 s each
#   FUZZ_SECONDS=10 fuzz/run.sh       shorter
#   fuzz/run.sh manifest              one target
# Needs clang and libclang-rt-14-dev (scripts/install-deps.sh --ci); the zarr targets also
# libzstd-dev, libblosc-dev and zlib1g-dev (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
build=${FUZZ_BUILD_DIR:-build-fuzz}
targets=${*:-npy_header manifest text embeddings zarr_meta zarr_chunk}

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DNDSHARD_BUILD_FUZZERS=ON -DNDSHARD_BUILD_TESTS=OFF -DNDSHARD_BUILD_BENCHMARKS=OFF \
  -DNDSHARD_BUILD_EXAMPLES=OFF -DNDSHARD_INSTALL=OFF >/dev/null
# shellcheck disable=SC2046,SC2086
cmake --build "$build" -j"$(nproc)" --target $(printf 'fuzz_%s ' $targets) >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0:symbolize=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
status=0
for t in $targets; do
  artifacts="$build/fuzz-artifacts/$t"
  rm -rf "$artifacts" && mkdir -p "$artifacts" "$work/$t"
  dict=()
  [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
  # new inputs go to the scratch corpus (first directory); the seeds are only read
  if "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 \
      -malloc_limit_mb=64 -max_len=8192 -print_final_stats=1 -artifact_prefix="$artifacts/" \
      "${dict[@]}" "$work/$t" "fuzz/corpus/$t" >"$work/$t.log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$t.log" | grep -o '[0-9]*$' || true)
    if grep -q '^fuzz_.*skipped' "$work/$t.log"; then
      grep '^fuzz_.*skipped' "$work/$t.log"
    else
      echo "fuzz_$t: ok, ${runs:-?} inputs in ${seconds} s"
    fi
  else
    echo "fuzz_$t: FAILED (inputs kept in $artifacts)"
    tail -n 60 "$work/$t.log"
    status=1
  fi
done
exit $status
