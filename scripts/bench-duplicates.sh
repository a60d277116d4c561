#!/usr/bin/env bash
# The cost of the duplicate key check on a file of many small keys: `check`
# and `check --quick` of this binary against the same commands of a binary
# built before the check existed (BASE, a commit), side by side with
# redis-check-rdb, which does not look for duplicate keys. Peak RSS shows the
# hashes leave memory for TMPDIR past 64 MiB.
#
#   KEYS=30000000 BASE=45dccdf scripts/bench-duplicates.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
KEYS=${KEYS:-30000000}
BASE=${BASE:-45dccdf}
DATA=${BENCH_DATA:-$ROOT/../bench-data}
RUNS=${RUNS:-3}
mkdir -p "$DATA"
FILE="$DATA/small-keys-$KEYS.rdb"
if [ ! -f "$FILE" ]; then
    echo "== writing $FILE ($KEYS string keys, checksum disabled)" >&2
    python3 - "$FILE" "$KEYS" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "wb", buffering=1 << 24) as f:
    f.write(b"REDIS0009\xfa\x09redis-ver\x056.2.0\xfe\x00")
    chunk = []
    for i in range(n):
        k = b"key:%d" % i
        chunk.append(b"\x00" + bytes([len(k)]) + k + b"\x01v")
        if len(chunk) == 100000:
            f.write(b"".join(chunk)); chunk = []
    f.write(b"".join(chunk))
    f.write(b"\xff" + b"\x00" * 8)
PY
fi
cargo build --release -q
NEW="$ROOT/target/release/rdb-tool"
OLD="$DATA/rdb-tool-$BASE"
if [ ! -x "$OLD" ]; then
    echo "== building $BASE" >&2
    tree=$(mktemp -d)
    git worktree add -q --detach "$tree" "$BASE"
    (cd "$tree" && cargo build --release -q --target-dir "$DATA/target-$BASE")
    cp "$DATA/target-$BASE/release/rdb-tool" "$OLD"
    git worktree remove --force "$tree"
fi
SIZE=$(stat -c %s "$FILE")
echo "file: $FILE ($SIZE bytes, $KEYS keys)"
echo
echo "| command | median s | MB/s | peak RSS MB |"
echo "|---|---:|---:|---:|"
run() {
    local name=$1; shift
    local times=()
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -f "%e %M" -o /tmp/bench-dup.time "$@" >/dev/null 2>&1 || true
        times+=("$(cat /tmp/bench-dup.time)")
    done
    printf '%s\n' "${times[@]}" | sort -n | awk -v n="$name" -v size="$SIZE" -v runs="$RUNS" \
        'NR == int((runs + 1) / 2) { printf "| %s | %.2f | %.0f | %.0f |\n", n, $1, size / 1e6 / $1, $2 / 1024 }'
}
run "rdb-tool check (with the duplicate check)" "$NEW" check "$FILE"
run "rdb-tool check, before it ($BASE)" "$OLD" check "$FILE"
run "rdb-tool check --quick (with it)" "$NEW" check --quick "$FILE"
run "rdb-tool check --quick, before it" "$OLD" check --quick "$FILE"
run "redis-check-rdb (no duplicate check)" redis-check-rdb "$FILE"
