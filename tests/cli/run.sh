#!/usr/bin/env bash
# The ndshard command-line program's tests, one group per ctest test:
#   run.sh GROUP NDSHARD WORKDIR [sanitized]
# GROUP: golden, convert, errors, verify, progress, cancel, large. Every output is compared
# exactly (golden files in golden/, or computed expectations); fixtures come from the checked-in
# CSVs through the program itself.
set -euo pipefail
group=$1
N=$(realpath "$2")
work=$3
sanitized=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
golden=$here/golden
rm -rf "$work"
mkdir -p "$work"
cd "$work"

fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_rc RC CMD...: runs CMD (stdout > out, stderr > err), checks its exit status
expect_rc() {
  local want=$1; shift
  local rc=0
  "$@" >out 2>err || rc=$?
  [ "$rc" -eq "$want" ] || { cat out err >&2; fail "$* exited $rc, expected $want"; }
}
# same_text FILE EXPECTED-FILE
same_text() { diff -u "$2" "$1" >&2 || fail "$1 differs from $2"; }

# small.csv: float64 with nan, inf, -0, FLT_MAX, denormals; f4.csv / i8.csv: extremes
fixtures() {
  "$N" convert "$here/small.csv" small.npy --skip-rows 2
  "$N" convert "$here/f4.csv" f4.npy --dtype f4
  "$N" convert "$here/i8.csv" i8.npy --dtype i8
}

case $group in
golden)
  fixtures
  cp "$here/small.csv" small.csv
  "$N" convert small.npy ds --shards 2
  "$N" convert small.npy ds_csv --format csv --shards 2
  "$N" convert small.npy z.zarr --codec zstd:3
  for p in ds ds_csv z.zarr small.npy; do
    "$N" info "$p" >"info_$p.txt"
    "$N" info "$p" --json >"info_$p.json"
    same_text "info_$p.txt" "$golden/info_$p.txt"
    same_text "info_$p.json" "$golden/info_$p.json"
  done
  "$N" info small.csv --skip-rows 2 >info_small.csv.txt
  "$N" info small.csv --skip-rows 2 --json >info_small.csv.json
  same_text info_small.csv.txt "$golden/info_small.csv.txt"
  same_text info_small.csv.json "$golden/info_small.csv.json"
  for p in small.npy ds ds_csv z.zarr; do
    "$N" head "$p" >head.txt
    same_text head.txt "$golden/head_small.txt"
  done
  "$N" head small.csv --skip-rows 2 >head.txt && same_text head.txt "$golden/head_small.txt"
  "$N" head small.npy -n 2 >head.txt && same_text head.txt "$golden/head_small_n2.txt"
  "$N" head small.npy --rows 3: >head.txt && same_text head.txt "$golden/head_small_3.txt"
  "$N" head f4.npy >head.txt && same_text head.txt "$golden/head_f4.txt"
  "$N" head i8.npy >head.txt && same_text head.txt "$golden/head_i8.txt"
  # rank 1: one value per line; rank 3: each row flattened
  /usr/bin/python3 -c "
import numpy as np
np.save('r1.npy', np.arange(12, dtype='<i4'))
np.save('r3.npy', np.arange(12, dtype='<f8').reshape(2, 3, 2) / 4)"
  "$N" head r1.npy -n 3 >head.txt && same_text head.txt "$golden/head_r1.txt"
  "$N" head r3.npy >head.txt && same_text head.txt "$golden/head_r3.txt"
  "$N" --version >v.txt && same_text v.txt "$golden/version.txt"
  ;;

convert)
  fixtures
  # every kind of target, from every kind of source: converting back to .npy gives the same bytes
  targets="ds_npy ds_csv ds_tsv z.zarr zz.zarr f.npy f.csv f.tsv"
  args_for() {
    case $1 in
      ds_npy) echo "--format npy --shards 3" ;;
      ds_csv) echo "--format csv --shards 2" ;;
      ds_tsv) echo "--format tsv" ;;
      zz.zarr) echo "--codec blosc_lz4" ;;
      *) echo "" ;;
    esac
  }
  for base in small f4 i8; do
    dt=$(/usr/bin/python3 -c "import numpy as np; print(np.load('$base.npy').dtype.str[1:])")
    mkdir "$base"
    for a in $targets; do
      # shellcheck disable=SC2046
      "$N" convert "$base.npy" "$base/$a" $(args_for "$a")
      "$N" convert "$base/$a" "$base/$a.back.npy" --dtype "$dt"
      cmp "$base.npy" "$base/$a.back.npy" || fail "$base.npy -> $a -> .npy differs"
      for b in $targets; do
        # shellcheck disable=SC2046
        "$N" convert "$base/$a" "$base/$a-$b" --dtype "$dt" $(args_for "$b")
        "$N" convert "$base/$a-$b" "$base/$a-$b.npy" --dtype "$dt"
        cmp "$base.npy" "$base/$a-$b.npy" || fail "$base: $a -> $b -> .npy differs"
        rm -rf "$base/$a-$b" "$base/$a-$b.npy"
      done
    done
    "$N" head "$base/ds_csv" >h1 && "$N" head "$base.npy" >h2 && same_text h1 h2
  done
  # numpy agrees with what was written
  /usr/bin/python3 - <<'PY'
import numpy as np
a = np.load('f4.npy'); b = np.load('i8.npy')
assert a.dtype == np.float32 and b.dtype == np.int64
f = a.ravel()
assert f[0] == np.finfo(np.float32).max and f[1] == np.float32(1.4e-45) and f[1] > 0
assert np.signbit(f[2]) and f[2] == 0 and np.isnan(f[3])
i = b.ravel()
assert i[0] == np.iinfo(np.int64).min and i[1] == np.iinfo(np.int64).max
PY
  # --rows and --dtype widening
  "$N" convert small.npy part.csv --rows 1:3
  printf '3.4028234663852886e+38,1e-45,-0\nnan,inf,-inf\n' >want && same_text part.csv want
  "$N" convert i8.npy i8f8.npy --dtype float64 --rows 2:
  "$N" head i8f8.npy >got && printf '0\t-1\n1\t2\n' >want && same_text got want
  # a pandas CSV: its header names become the dataset's "columns" attribute; a text column
  # with quoted commas is left out with --usecols; empty fields are NaN
  printf 'id,label,score\n7,"a, b",1.5\n8,c,\n' >pandas.csv
  "$N" convert pandas.csv pd --header --usecols 0,2
  "$N" info pd --json >info.json
  /usr/bin/python3 -c 'import json,sys; a=json.load(open("info.json"))["attributes"]; sys.exit(a != {"columns": ["id", "score"]})' \
    || fail "pandas.csv's column names were not kept: $(cat info.json)"
  "$N" head pd >got && printf '7\t1.5\n8\tnan\n' >want && same_text got want
  "$N" info pandas.csv --header --usecols 2,1 | grep '^columns:' >got
  printf 'columns:     ["score","label"]\n' >want && same_text got want
  # converting onto itself is refused; the file is untouched
  cp small.npy self.npy
  expect_rc 2 "$N" convert self.npy self.npy
  cmp small.npy self.npy
  printf "ndshard: refusing to convert 'self.npy' onto itself\n" >want && same_text err want
  # an existing target is replaced atomically (no temporary left beside it)
  "$N" convert small.npy f.csv && "$N" convert i8.npy f.csv --dtype i8
  [ "$(ls | grep -c tmp)" -eq 0 ] || fail "temporary files left: $(ls)"
  ;;

errors)
  fixtures
  # values the target type cannot hold: exit 1, the row named
  expect_rc 1 "$N" convert i8.npy out.npy --dtype u1
  printf "ndshard: cannot convert 'i8.npy': row 0 holds -9223372036854775808, which uint8 cannot hold\n" >want
  same_text err want
  [ ! -e out.npy ] || fail "out.npy written by a failed convert"
  printf '1\n2\n300\n' >u.csv
  "$N" convert u.csv u.npy --dtype i4
  expect_rc 1 "$N" convert u.npy out.npy --dtype u1
  printf "ndshard: cannot convert 'u.npy': row 2 holds 300, which uint8 cannot hold\n" >want
  same_text err want
  expect_rc 1 "$N" convert small.npy outds --dtype f4
  printf "ndshard: cannot convert 'small.npy': row 3 holds 1.0000000000000001e+300, which float32 cannot hold\n" >want
  same_text err want
  [ ! -e outds ] || fail "outds written by a failed convert"
  expect_rc 1 "$N" convert f4.npy out.npy --dtype i8
  printf "ndshard: cannot convert 'f4.npy': row 0 holds 3.4028234663852886e+38, which int64 cannot hold\n" >want
  same_text err want
  # a parse error: the library's message, exit 1
  printf '1,2\n3,x\n' >bad.csv
  expect_rc 1 "$N" convert bad.csv out.npy
  # the library's own text, unchanged
  printf "ndshard: cannot parse 'bad.csv' line 2, field 2 (byte 3): expected a number, found 'x'\n" >want
  same_text err want
  expect_rc 1 "$N" info missing.npy
  grep -q "^ndshard: .*missing.npy" err || fail "no message for a missing file: $(cat err)"
  # usage errors: exit 2
  expect_rc 2 "$N"
  expect_rc 2 "$N" frobnicate small.npy
  expect_rc 2 "$N" info
  expect_rc 2 "$N" convert small.npy
  expect_rc 2 "$N" head small.npy -n x
  expect_rc 2 "$N" convert small.npy out --format parquet
  grep -q "parquet" err || fail "bad --format not named: $(cat err)"
  expect_rc 2 "$N" head small.npy --rows 5
  printf "ndshard: --rows: expected A:B (rows A to B-1; either may be left out), found '5'\n" >want
  same_text err want
  expect_rc 2 "$N" head small.npy --rows 3:1
  expect_rc 2 "$N" convert small.npy out --dtype f16
  printf "ndshard: --dtype: expected f4, f8, i1, i2, i4, i8, u1, u2, u4, u8, b1 (or float32, int64, bool...), found 'f16'\n" >want
  same_text err want
  expect_rc 2 "$N" convert small.npy out.zarr --codec lzma
  expect_rc 2 "$N" convert small.npy out.npy --format csv
  expect_rc 2 "$N" verify small.npy --progress --no-progress
  # --help everywhere, exit 0
  for sub in "" info verify convert head; do
    # shellcheck disable=SC2086
    expect_rc 0 "$N" $sub --help
    grep -q "Usage:" out || fail "no usage for '$sub --help'"
  done
  ;;

verify)
  # 8 rows in 4 shards of 2: one left alone, one with a byte flipped, one truncated, one removed
  seq 1 24 | paste -d, - - - >v.csv
  "$N" convert v.csv ds --shards 4
  expect_rc 0 "$N" verify ds
  printf 'ds: ok: 4 shards, 704 bytes checked\n' >want && same_text out want
  s=(ds/part-000001-0000{0,1,2,3}.npy)
  printf '\377' | dd of="${s[1]}" bs=1 seek=150 conv=notrunc status=none
  truncate -s 100 "${s[2]}"
  rm "${s[3]}"
  expect_rc 1 "$N" verify ds
  same_text out "$golden/verify_bad.txt"
  [ ! -s err ] || fail "verify wrote to stderr: $(cat err)"
  # other sources: read whole; an error is one problem line
  "$N" convert v.csv v.npy
  expect_rc 0 "$N" verify v.npy
  printf 'v.npy: ok: 8 rows read (npy: no checksums, every value decoded)\n' >want && same_text out want
  head -c 200 v.npy >short.npy
  expect_rc 1 "$N" verify short.npy
  same_text out "$golden/verify_short.txt"
  printf '1,2\n3,x\n' >bad.csv
  expect_rc 1 "$N" verify bad.csv
  printf "bad.csv: ndshard: cannot parse 'bad.csv' line 2, field 2 (byte 3): expected a number, found 'x'\nbad.csv: 1 problem\n" >want
  same_text out want
  ;;

progress)
  /usr/bin/python3 -c "
import sys
sys.stdout.write(''.join('%d,%d.5,%d\n' % (i, i, -i) for i in range(200000)))" >p.csv
  # under a pseudo-terminal: a bar ('%', redrawn with CR) by default and with --progress
  script -qec "'$N' convert p.csv a.npy --block-rows 20000 --threads 1" /dev/null >tty.txt
  grep -q '%' tty.txt && grep -q $'\r' tty.txt || fail "no progress bar on a terminal: $(cat -v tty.txt)"
  grep -q '100.0%' tty.txt || fail "the bar never reached 100%: $(cat -v tty.txt)"
  script -qec "'$N' verify a.npy" /dev/null >tty.txt
  grep -q '%' tty.txt || fail "no progress bar for verify: $(cat -v tty.txt)"
  # --no-progress under a terminal: none
  script -qec "'$N' convert p.csv b.npy --no-progress" /dev/null >tty.txt
  ! grep -q '%' tty.txt || fail "a bar despite --no-progress: $(cat -v tty.txt)"
  ! grep -q $'\r' tty.txt || fail "a CR despite --no-progress: $(cat -v tty.txt)"
  # stderr not a terminal: quiet, unless --progress
  "$N" convert p.csv c.npy 2>err.txt
  [ ! -s err.txt ] || fail "progress output without a terminal: $(cat -v err.txt)"
  "$N" convert p.csv d.npy --progress --block-rows 20000 2>err.txt
  grep -q '%' err.txt || fail "no bar with --progress: $(cat -v err.txt)"
  [ "$(tail -c 1 err.txt | od -An -c | tr -d ' ')" = '\n' ] || fail "the bar's line is not ended"
  cmp a.npy b.npy && cmp a.npy c.npy && cmp a.npy d.npy
  ;;

cancel)
  # SIGINT in the middle of a conversion into an existing dataset: exit 130, the library's
  # cancelled message, the old dataset unchanged. Retried with more rows if the conversion
  # finished before the signal landed (never a timing failure).
  seq 1 24 | paste -d, - - - >old.csv
  rows=400000
  [ -n "$sanitized" ] && rows=100000
  for attempt in 1 2 3 4 5; do
    rm -rf ds
    "$N" convert old.csv ds --shards 2
    "$N" head ds >old_head.txt
    /usr/bin/python3 -c "
import sys
sys.stdout.write(''.join('%d,%d.25,%d\n' % (i, i, -i) for i in range($rows)))" >big.csv
    "$N" convert big.csv ds --threads 1 --block-rows 1000 --shards 400 --no-progress \
      >out 2>err &
    pid=$!
    # once a shard of the new generation exists, the conversion is under way
    while kill -0 "$pid" 2>/dev/null && ! ls ds | grep -q '^part-000002-'; do sleep 0.01; done
    kill -INT "$pid" 2>/dev/null || true
    rc=0
    wait "$pid" || rc=$?
    if [ "$rc" -eq 0 ]; then rows=$((rows * 4)); continue; fi
    [ "$rc" -eq 130 ] || { cat err >&2; fail "interrupted convert exited $rc, expected 130"; }
    grep -q '^ndshard: .*cancelled' err || fail "no cancelled message: $(cat err)"
    [ "$(wc -l <err)" -eq 1 ] || fail "more than the message on stderr: $(cat err)"
    expect_rc 0 "$N" verify ds
    "$N" head ds >new_head.txt
    same_text new_head.txt old_head.txt
    "$N" info ds | grep -q '^shape: *(8, 3)$' || fail "the old dataset changed: $("$N" info ds)"
    [ -z "$(ls ds | grep -v '^part-000001-\|^manifest.json$')" ] || fail "files left: $(ls ds)"
    exit 0
  done
  fail "the conversion always finished before SIGINT landed"
  ;;

large)
  # a CSV far larger than the memory the conversion may use: peak RSS below a third of it
  if [ -n "$sanitized" ]; then echo "skipped: RSS means nothing under sanitizers"; exit 77; fi
  /usr/bin/python3 - <<'PY'
block = ''.join('%d,%d.5,%d,%d.25,%d,%d,%d.75,%d\n' % (i, -i, i * 7, i, -3 * i, i * 11, i, -i)
                for i in range(20000)).encode()
with open('big.csv', 'wb') as f:
    for _ in range(210):
        f.write(block)
PY
  size=$(stat -c %s big.csv)
  [ "$size" -gt 200000000 ] || fail "big.csv is only $size bytes"
  /usr/bin/time -v "$N" convert big.csv ds --threads 2 --block-rows 16384 --shards 64 \
    --no-progress 2>time.txt || { cat time.txt >&2; fail "convert failed"; }
  rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' time.txt)
  echo "big.csv: $size bytes, peak RSS $((rss_kb / 1024)) MiB"
  [ $((rss_kb * 1024 * 3)) -lt "$size" ] || fail "peak RSS ${rss_kb} KiB is not below a third of $size bytes"
  "$N" info ds | grep -q '^shape: *(4200000, 8)$' || fail "wrong shape: $("$N" info ds)"
  "$N" head ds --rows 4199999:4200000 >got
  printf '19999\t-19999.5\t139993\t19999.25\t-59997\t219989\t19999.75\t-19999\n' >want
  same_text got want
  ;;

*)
  echo "run.sh: unknown group $group" >&2
  exit 2
  ;;
esac
