#!/usr/bin/env bash
# Benchmark rdb-tool against the tools users would otherwise pick, on a ~1 GB
# mixed RDB and a ~1 GB multi-part AOF written by the real redis-server
# (Debian's 7.0, RDB 10).
#
#   scripts/bench.sh                 # data in $BENCH_DATA (default ../bench-data)
#   RUNS=5 scripts/bench.sh
#
# Needs: redis-server, redis-tools, hyperfine, time (Debian packages; installed if
# missing), python3. Optional peers: the `rdb` crate's binary (cargo install rdb
# --root $BENCH_TOOLS) and PyPI rdbtools (`pip install rdbtools`).
# Prints a Markdown table with median wall time, throughput and peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCH_DATA=${BENCH_DATA:-$ROOT/../bench-data}
BENCH_TOOLS=${BENCH_TOOLS:-$ROOT/../bench-tools}
RUNS=${RUNS:-5}
mkdir -p "$BENCH_DATA"

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-check-rdb >/dev/null || need+=(redis-tools)
command -v hyperfine >/dev/null || need+=(hyperfine)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

RDB="$BENCH_DATA/mixed.rdb"
if [ ! -f "$RDB" ]; then
    echo "== generating $RDB with redis-server (a few minutes)" >&2
    python3 ../shared/bench/gen_bench_data.py mixed --scale 0.75 --out "$RDB" >&2
fi
cargo build --release -q
BIN="$ROOT/target/release/rdb-tool"
SIZE=$(stat -c %s "$RDB")

# name | command (output discarded)
cases=(
    "cat (page cache read)|cat $RDB"
    "rdb-tool check|$BIN check $RDB"
    "rdb-tool check --quick|$BIN check --quick $RDB"
    "redis-check-rdb (7.0)|redis-check-rdb $RDB"
    "rdb-tool dump --format jsonl|$BIN dump $RDB --format jsonl"
)
if command -v rdb >/dev/null && rdb --help 2>&1 | grep -q rdbtools; then
    cases+=("rdbtools (PyPI) rdb --command justkeys|rdb --command justkeys $RDB")
fi
if [ -x "$BENCH_TOOLS/bin/rdb" ]; then
    cases+=("rdb crate 0.4: rdb --format nil (parse only)|$BENCH_TOOLS/bin/rdb --format nil $RDB")
    cases+=("rdb crate 0.4: rdb --format json|$BENCH_TOOLS/bin/rdb --format json $RDB")
fi

# bench_table SIZE WARM_FILES... -- "name|command"...: one Markdown table.
bench_table() {
    local size=$1; shift
    local warm=()
    while [ "$1" != "--" ]; do warm+=("$1"); shift; done
    shift
    echo "| tool | median s | MB/s | peak RSS MB |"
    echo "|---|---:|---:|---:|"
    for c in "$@"; do
        name=${c%%|*}
        cmd=${c#*|}
        cat "${warm[@]}" >/dev/null # back into the page cache before each measurement
        json=$(mktemp)
        hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$json" --output=null "$cmd" >/dev/null 2>&1 || {
            echo "| $name | failed | | |"
            continue
        }
        median=$(python3 -c "import json,sys; print('%.2f' % json.load(open(sys.argv[1]))['results'][0]['median'])" "$json")
        rm -f "$json"
        rss=$( { /usr/bin/time -f "%M" sh -c "$cmd > /dev/null 2>&1"; } 2>&1 | tail -1)
        mbs=$(python3 -c "print('%.0f' % ($size / 1e6 / $median))")
        echo "| $name | $median | $mbs | $((rss / 1024)) |"
    done
    echo
}

echo "## RDB"
bench_table "$SIZE" "$RDB" -- "${cases[@]}"
echo "Input: $RDB, $SIZE bytes; $(nproc) cores; $RUNS runs each after a warm-up, page cache warm."

# The ~1 GB multi-part AOF (Redis 7.0: RESP base + two incr files).
AOF="$BENCH_DATA/aof"
if [ ! -f "$AOF/appendonly.aof.manifest" ]; then
    echo "== generating $AOF with redis-server (a minute or two)" >&2
    python3 ../shared/bench/gen_bench_data.py aof --scale 1.0 --aof-target-mb 1000 --out "$AOF" >&2
fi
AOF_SIZE=$(cat "$AOF"/*.aof | wc -c)
echo
echo "## AOF"
bench_table "$AOF_SIZE" "$AOF"/*.aof -- \
    "cat (page cache read)|sh -c 'cat $AOF/*.aof'" \
    "rdb-tool check|$BIN check $AOF" \
    "redis-check-aof (7.0)|sh -c 'cd $AOF && redis-check-aof appendonly.aof.manifest'" \
    "rdb-tool dump --commands|$BIN dump --commands $AOF"
echo "Input: $AOF, $AOF_SIZE bytes in $(ls "$AOF"/*.aof | wc -l) files."
