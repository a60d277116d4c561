#!/usr/bin/env bash
# `salvage` on generated damage to the 1 GB bench file, beside `check` and
# `redis-check-rdb` (which reports the first fault and recovers nothing).
# For each damaged copy: the outcome, the wall time, and
# - one changed byte or bit: whether the output is the original (sha256);
# - a span or a cut: the keys kept, and what `rdb-tool diff --stat` says
#   of the output against the original (added and changed must be 0).
#
#   scripts/bench-salvage.sh [RDB] [FLIPS] [BYTES] [SPANS] [CUTS]
#
# RDB defaults to ../bench-data/mixed.rdb (scripts/bench.sh makes it).
# Each case copies the file (1 GB of scratch space in $TMPDIR or /tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
rdb="${1:-../bench-data/mixed.rdb}"
flips="${2:-5}"
bytes="${3:-5}"
spans="${4:-4}"
cuts="${5:-2}"
bin=$PWD/target/release/rdb-tool
cargo build --release -q
work="$(mktemp -d "${TMPDIR:-/tmp}/bench-salvage.XXXXXX")"
trap 'rm -rf "$work"' EXIT
original_sha=$(sha256sum < "$rdb" | cut -d' ' -f1)
cat "$rdb" > /dev/null
t() { /usr/bin/time -f "%e" "$@" 2>&1 >/dev/null | tail -1; }
echo "check: $(t "$bin" check "$rdb") s"
if command -v redis-check-rdb > /dev/null; then
    echo "redis-check-rdb: $(t redis-check-rdb "$rdb") s"
fi
# Damage: kind, offset, length, seeded (the same cases on every run).
python3 - "$rdb" "$flips" "$bytes" "$spans" "$cuts" > "$work/cases" <<'EOF'
import os, random, sys
path, flips, nbytes, spans, cuts = sys.argv[1], *map(int, sys.argv[2:])
size = os.path.getsize(path)
r = random.Random(20261207)
for _ in range(flips):
    print("bit", r.randrange(size), 1, 1 << r.randrange(8))
for _ in range(nbytes):
    print("byte", r.randrange(size), 1, r.randrange(1, 256))
for i in range(spans):
    length = r.choice([1, 100, 4096, 65536])
    print("zeroed" if i % 2 == 0 else "spliced", r.randrange(size - length), length, r.randrange(size - length))
for _ in range(cuts):
    print("cut", r.randrange(size // 10, size), 0, 0)
EOF
printf "%-8s %12s %7s %-10s %8s %s\n" kind offset length outcome seconds result
while read -r kind offset length arg; do
    copy="$work/damaged.rdb"
    out="$work/out.rdb"
    rm -f "$out" "$work/report.json"
    cp "$rdb" "$copy"
    python3 - "$copy" "$kind" "$offset" "$length" "$arg" <<'EOF'
import sys
path, kind, offset, length, arg = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
with open(path, "r+b") as f:
    if kind in ("bit", "byte"):
        f.seek(offset); b = f.read(1); f.seek(offset); f.write(bytes([b[0] ^ arg]))
    elif kind == "zeroed":
        f.seek(offset); f.write(b"\0" * length)
    elif kind == "spliced":
        f.seek(arg); data = f.read(length); f.seek(offset); f.write(data)
    elif kind == "cut":
        f.truncate(offset)
EOF
    start=$(date +%s.%N)
    set +e
    "$bin" salvage "$copy" -o "$out" --report "$work/report.json" > "$work/stdout" 2> "$work/stderr"
    code=$?
    set -e
    secs=$(echo "$(date +%s.%N) - $start" | bc)
    outcome=$(python3 -c "import json;print(json.load(open('$work/report.json'))['outcome'])" 2>/dev/null || echo "exit-$code")
    case "$outcome" in
        repaired|intact|unlocated)
            if [ "$(sha256sum < "$out" | cut -d' ' -f1)" = "$original_sha" ]; then result="sha256 = original"
            else result="sha256 differs"; fi ;;
        resynced)
            kept=$(python3 -c "import json;r=json.load(open('$work/report.json'));print(r['keys_kept'], 'kept,', len(r['lost_spans']), 'spans,', len(r.get('dropped_copies', [])), 'copies dropped')")
            stat=$("$bin" diff "$rdb" "$out" --stat 2>&1 | head -1 || true)
            result="$kept; $stat" ;;
        *) result="$(head -c 160 "$work/stderr")" ;;
    esac
    printf "%-8s %12s %7s %-10s %8.2f %s\n" "$kind" "$offset" "$length" "$outcome" "$secs" "$result"
done < "$work/cases"
