#!/usr/bin/env bash
# The memory report on the 1 GB bench file, beside `check` and beside what
# users would otherwise run: `rdb --command memory` from PyPI's rdbtools
# (which refuses RDB 10+, so it reads an RDB 9 conversion of the same file).
# Prints wall time, CPU time and peak RSS of each; page cache warmed first.
#
#   scripts/bench-memory.sh [RDB] [RUNS]
#
# RDB defaults to ../bench-data/mixed.rdb (scripts/bench.sh makes it).
set -euo pipefail
cd "$(dirname "$0")/.."
rdb="${1:-../bench-data/mixed.rdb}"
runs="${2:-3}"
bin=target/release/rdb-tool
cargo build --release -q
now=1765000000000
v9="${rdb%.rdb}-v9.rdb"
[ -f "$v9" ] || "$bin" convert "$rdb" --to rdb --rdb-version 9 -o "$v9"
venv=target/rdbtools-venv
if [ ! -x "$venv/bin/rdb" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q rdbtools python-lzf
fi
cat "$rdb" "$v9" > /dev/null
measure() {
    local name="$1"
    shift
    /usr/bin/time -f "$name	%e s	%U s user	%M KB" "$@" > /dev/null
}
for i in $(seq "$runs"); do
    measure "rdb-tool memory" "$bin" memory "$rdb" --now "$now"
    measure "rdb-tool memory --keys csv" "$bin" memory "$rdb" --now "$now" --keys csv
    measure "rdb-tool check" "$bin" check "$rdb"
done
measure "rdbtools --command memory (RDB 9)" "$venv/bin/rdb" --command memory "$v9"
