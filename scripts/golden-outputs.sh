#!/usr/bin/env bash
# The sha256 of every command's output over every in-tree and corpus fixture
# (valid and damaged) and, when present, the bench files: run it before and
# after a change that must not change behaviour (issue 14's redesign) and diff
# the two listings.
#
#   scripts/golden-outputs.sh > before.txt
#   (change)
#   scripts/golden-outputs.sh > after.txt && diff before.txt after.txt
#
# Time is pinned (--now) wherever a result depends on it; paths are relative,
# so the listing does not depend on where the checkout lives. Each line:
# "<sha256 of stdout+stderr> <exit code> <command>"; a directory written by
# `convert --to aof-dir` is hashed file by file.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
NOW=1800000000000
CORPUS=${RDB_TOOL_CORPUS:-../shared/corpus}
BENCH=${BENCH_DATA:-../bench-data}
# A fixed, relative scratch path: it appears in commands and messages, which
# must read the same on every run.
scratch=target/golden-scratch
rm -rf "$scratch" && mkdir -p "$scratch"
trap 'rm -rf "$scratch"' EXIT
# A copy, so that a build during the run does not change the binary under it.
BIN=$scratch/rdb-tool
cp target/release/rdb-tool "$BIN"

# One command: its combined output hashed, with its exit code.
run() {
    local code=0
    "$BIN" "$@" >"$scratch/out" 2>&1 || code=$?
    printf '%s %s %s\n' "$(sha256sum <"$scratch/out" | cut -c1-64)" "$code" "$*"
}

# A command writing a file or directory: the hash of what it wrote.
run_to() {
    local target=$1
    shift
    rm -rf "$target"
    local code=0
    "$BIN" "$@" >"$scratch/log" 2>&1 || code=$?
    local sum
    if [ -d "$target" ]; then
        local log=$PWD/$scratch/log
        sum=$(cd "$target" && find . -type f | sort | xargs cat "$log" | sha256sum | cut -c1-64)
    elif [ -f "$target" ]; then
        sum=$(cat "$scratch/log" "$target" | sha256sum | cut -c1-64)
    else
        sum=$(sha256sum <"$scratch/log" | cut -c1-64)
    fi
    printf '%s %s %s\n' "$sum" "$code" "$*"
}

rdb_inputs() {
    find testdata "$CORPUS" -name '*.rdb' -type f | sort
    [ -d "$BENCH" ] && find "$BENCH" -maxdepth 1 -name '*.rdb' -type f | sort
    true
}

aof_inputs() {
    find testdata "$CORPUS" \( -name 'appendonlydir' -type d -o -name '*.aof' -type f \) | sort
    [ -d "$BENCH" ] && find "$BENCH" -maxdepth 2 -name 'appendonlydir' -type d | sort
    true
}

while read -r f; do
    run check --format json --now "$NOW" "$f"
    run check --now "$NOW" "$f"
    run check --quick --format json --now "$NOW" "$f"
    run dump "$f"
    run dump --format json --db 0 --type hash --type zset "$f"
    run dump --key 'str:*' --no-expired --now "$NOW" "$f"
    for v in 9 10 11 12 15 80; do
        run_to "$scratch/o.rdb" convert "$f" --to rdb --rdb-version "$v" --drop-unsupported -o "$scratch/o.rdb"
    done
    run convert "$f" --to resp --drop-unsupported
    run convert "$f" --to resp --restore --drop-unsupported
    run convert "$f" --to aof --drop-unsupported
    run_to "$scratch/dir" convert "$f" --to aof-dir --drop-unsupported -o "$scratch/dir"
    run convert "$f" --to jsonl
    run diff --format jsonl "$f" "$f"
done < <(rdb_inputs)

# Standard input: the same commands read through a pipe.
run_stdin() {
    local input=$1
    shift
    local code=0
    "$BIN" "$@" <"$input" >"$scratch/out" 2>&1 || code=$?
    printf '%s %s %s < %s\n' "$(sha256sum <"$scratch/out" | cut -c1-64)" "$code" "$*" "$input"
}

# In-tree inputs once more: through a pipe, as our own JSON dumps (read
# back by convert and diff), and compared with their neighbour.
prev=
while read -r f; do
    run_stdin "$f" check --format json --now "$NOW" -
    run_stdin "$f" dump -
    run_stdin "$f" convert - --to resp --drop-unsupported
    code=0
    "$BIN" dump "$f" >"$scratch/d.jsonl" 2>/dev/null || code=$?
    "$BIN" dump --format json "$f" >"$scratch/d.json" 2>/dev/null || code=$?
    if [ "$code" = 0 ]; then
        for d in "$scratch/d.jsonl" "$scratch/d.json"; do
            run_to "$scratch/o.rdb" convert "$d" --to rdb --rdb-version 12 --drop-unsupported -o "$scratch/o.rdb"
            run convert "$d" --to resp --drop-unsupported
            run convert "$d" --to jsonl
            run diff --format jsonl "$f" "$d"
        done
    fi
    [ -n "$prev" ] && run diff --format jsonl --now "$NOW" "$prev" "$f"
    [ -n "$prev" ] && run diff --now "$NOW" "$prev" "$f"
    prev=$f
done < <(find testdata -name '*.rdb' -type f | sort)

while read -r a; do
    run check --format json --now "$NOW" "$a"
    run check --now "$NOW" "$a"
    run dump --commands "$a"
    run dump --now "$NOW" --skip-unknown "$a"
    run convert "$a" --to rdb --rdb-version 12 --now "$NOW" --skip-unknown --drop-unsupported
    run convert "$a" --to resp --now "$NOW" --skip-unknown --drop-unsupported
    run fix --dry-run "$a"
    run diff --format jsonl --now "$NOW" "$a" "$a"
done < <(aof_inputs)
