#!/usr/bin/env bash
# `salvage` on damage made in the middle of the 1 GB multi-part bench AOF,
# beside `check` and `redis-check-aof` (whose `--fix` can only cut the last
# file, and refuses damage anywhere else).
#
# For each damaged copy: the wall time, the spans the report lists, and
# whether the salvaged set holds exactly the original's commands minus the
# ones whose bytes the damage reached (and, at a cut, a transaction left
# open, which the server drops). That is judged here, in Python, from the
# original files: every file the damage missed must be byte-identical; in
# the damaged one, the commands other than MULTI/EXEC must be the
# original's in order (a SELECT the salvage put back after a span is
# allowed, and counted).
#
#   scripts/bench-salvage-aof.sh [AOF_DIR] [SPANS] [CUTS]
#
# AOF_DIR defaults to ../bench-data/aof (scripts/bench.sh makes it). Each
# case copies the set (1 GB of scratch space in $TMPDIR or /tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
aof="${1:-../bench-data/aof}"
spans="${2:-8}"
cuts="${3:-2}"
bin=$PWD/target/release/rdb-tool
cargo build --release -q
work="$(mktemp -d "${TMPDIR:-/tmp}/bench-salvage-aof.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cat "$aof"/*.aof > /dev/null
t() { /usr/bin/time -f "%e" "$@" 2>&1 >/dev/null | tail -1; }
echo "check: $(t "$bin" check "$aof") s"
if command -v redis-check-aof > /dev/null; then
    echo "redis-check-aof: $(t sh -c "cd '$aof' && redis-check-aof appendonly.aof.manifest") s"
fi
# Damage: kind, file, offset, length (seeded: the same cases on every run).
python3 - "$aof" "$spans" "$cuts" > "$work/cases" <<'EOF'
import os, random, sys
aof, spans, cuts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
files = sorted(f for f in os.listdir(aof) if f.endswith(".aof"))
sizes = [os.path.getsize(os.path.join(aof, f)) for f in files]
r = random.Random(20261208)
for i in range(spans):
    f = r.choices(files, weights=sizes)[0]
    length = r.choice([1, 100, 4096, 65536])
    kind = ["zeroed", "overwritten", "spliced"][i % 3]
    print(kind, f, r.randrange(os.path.getsize(os.path.join(aof, f)) - length), length)
for i in range(cuts):
    f = files[-1] if i % 2 == 0 else files[0]
    size = os.path.getsize(os.path.join(aof, f))
    print("cut", f, r.randrange(size // 10, size), 0)
EOF
printf "%-11s %-26s %10s %6s %7s %5s %8s %s\n" kind file offset length seconds spans lost result
while read -r kind file offset length; do
    rm -rf "$work/damaged" "$work/out" "$work/report.json"
    cp -r "$aof" "$work/damaged"
    python3 - "$work/damaged/$file" "$kind" "$offset" "$length" <<'EOF'
import random, sys
path, kind, offset, length = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
r = random.Random(offset)
with open(path, "r+b") as f:
    if kind == "zeroed":
        f.seek(offset); f.write(b"\0" * length)
    elif kind == "overwritten":
        f.seek(offset); f.write(bytes(r.randrange(256) for _ in range(length)))
    elif kind == "spliced":
        f.seek(offset); rest = f.read(); f.seek(offset)
        f.write(bytes(r.randrange(256) for _ in range(length)) + rest)
    elif kind == "cut":
        f.truncate(offset)
EOF
    # Exit 1 is the expected outcome (salvaged with losses).
    secs=$( { /usr/bin/time -f "%e" "$bin" salvage "$work/damaged" -o "$work/out" --report "$work/report.json" > /dev/null || true; } 2>&1 | tail -1 )
    python3 - "$aof" "$work/out" "$work/report.json" "$file" "$kind" "$offset" "$length" "$secs" <<'EOF'
import json, os, sys
aof, out, report, damaged, kind, offset, length, secs = sys.argv[1:]
offset, length = int(offset), int(length)

def commands(b):
    """(start, end) of each command record, as the server frames them."""
    spans, i, n = [], 0, len(b)
    while i < n:
        if b[i] == 0x23:
            j = b.find(b"\n", i); i = n if j < 0 else j + 1; continue
        if b[i] != 0x2a:
            break
        j = b.find(b"\r\n", i); p = j + 2
        for _ in range(int(b[i + 1:j])):
            k = b.find(b"\r\n", p); p = k + 2 + int(b[p + 1:k]) + 2
        spans.append((i, p)); i = p
    return spans

def name(rec):
    a = rec.index(b"\r\n") + 2
    b = rec.index(b"\r\n", a) + 2
    return rec[b:rec.index(b"\r\n", b)].upper()

rep = json.load(open(report))
nspans = sum(len(f["skipped_spans"]) for f in rep["files"])
result = []
if rep["outcome"] == "intact":
    # Bytes changed inside a value, every command still well formed: no
    # check can tell (an AOF has no checksum); the output is a copy.
    print(f"{kind:<11} {damaged:<26} {offset:>10} {length:>6} {secs:>7} {0:>5} {0:>8} undetectable: kept as read")
    sys.exit(0)
for f in sorted(os.listdir(aof)):
    if not f.endswith(".aof"):
        continue
    if f != damaged:
        if open(os.path.join(aof, f), "rb").read() != open(os.path.join(out, f), "rb").read():
            result.append(f"{f} changed")
        continue
    orig = open(os.path.join(aof, f), "rb").read()
    if kind == "cut":
        reached = lambda s, e: e > offset
    elif kind == "spliced":
        reached = lambda s, e: s < offset < e
    else:
        reached = lambda s, e: s < offset + length and e > offset
    kept = [orig[s:e] for s, e in commands(orig) if not reached(s, e)]
    if kind == "cut":
        # A transaction the cut leaves open is dropped, as the server drops it.
        names = [name(c) for c in kept]
        if b"MULTI" in names:
            m = len(names) - 1 - names[::-1].index(b"MULTI")
            if b"EXEC" not in names[m:]:
                kept = kept[:m]
    want = [c for c in kept if name(c) not in (b"MULTI", b"EXEC")]
    salv = open(os.path.join(out, f), "rb").read()
    got = [salv[s:e] for s, e in commands(salv)]
    got = [c for c in got if name(c) not in (b"MULTI", b"EXEC")]
    i = j = put_back = 0
    while i < len(want) and j < len(got):
        if want[i] == got[j]:
            i += 1; j += 1
        elif name(got[j]) == b"SELECT":
            put_back += 1; j += 1
        else:
            break
    lost = sum(1 for s, e in commands(orig) if reached(s, e))
    if i == len(want) and j == len(got):
        result.append("exact" + (f" (+{put_back} SELECT put back)" if put_back else ""))
    else:
        result.append(f"DIFFERS at command {i} of {len(want)}")
print(f"{kind:<11} {damaged:<26} {offset:>10} {length:>6} {secs:>7} {nspans:>5} {lost:>8} {'; '.join(result)}")
EOF
done < "$work/cases"
