#!/usr/bin/env bash
# Huge single records through a pipe and a map: time, peak RSS, and peak
# anonymous memory (the process's own, as opposed to file pages of the map or
# of a pipe's spill file). Inputs:
#   big-string.rdb  one 600 MB string (raw, incompressible layout) + a small key
#   big-coll.rdb    a 3 M-element list and a 1.5 M-field hash, written by the
#                   real redis-server (227 MB)
# Usage: scripts/bench-huge-records.sh [DIR] (default /tmp/rdb-tool-huge);
# RDB_TOOL=path measures another build of the tool.
set -euo pipefail
dir=${1:-/tmp/rdb-tool-huge}
mkdir -p "$dir"
cd "$(dirname "$0")/.."
if [ -z "${RDB_TOOL:-}" ]; then
    cargo build --release -q
fi
tool=${RDB_TOOL:-$PWD/target/release/rdb-tool}

if [ ! -s "$dir/big-string.rdb" ]; then
    python3 - "$dir/big-string.rdb" <<'EOF'
import struct, sys
n = 600 << 20
with open(sys.argv[1], 'wb') as f:
    f.write(b'REDIS0009\xfe\x00')
    f.write(b'\x00\x03big\x80' + struct.pack('>I', n))
    chunk = (b'abcdefghij' * 104858)[:1 << 20]
    for _ in range(n >> 20):
        f.write(chunk)
    f.write(b'\x00\x05small\x02hi')
    f.write(b'\xff' + b'\x00' * 8)  # checksum disabled
EOF
fi

if [ ! -s "$dir/big-coll.rdb" ]; then
    srv="$dir/server"
    mkdir -p "$srv"
    port=7391
    redis-server --port $port --dir "$srv" --save "" --appendonly no --daemonize yes --logfile "$srv/log"
    sleep 0.5
    python3 - <<'EOF' | redis-cli -p $port --pipe >/dev/null
import sys, random
out = sys.stdout.buffer
random.seed(1)
def cmd(*a):
    out.write(b'*%d\r\n' % len(a) + b''.join(b'$%d\r\n%s\r\n' % (len(x), x) for x in a))
for i in range(3000):
    cmd(b'RPUSH', b'biglist', *[b'element-%08d-' % (i * 1000 + j) +
        bytes(random.choice(b'abcdefghijklmnopqrstuvwxyz') for _ in range(60)) for j in range(1000)])
for i in range(1500):
    args = []
    for j in range(1000):
        args += [b'f%08d' % (i * 1000 + j), b'v' * 50]
    cmd(b'HSET', b'bighash', *args)
cmd(b'SET', b'after', b'x')
EOF
    redis-cli -p $port save >/dev/null
    redis-cli -p $port shutdown nosave >/dev/null || true
    mv "$srv/dump.rdb" "$dir/big-coll.rdb"
fi

# Run a command line, sampling /proc for the peak anonymous RSS.
measure() {
    local label=$1; shift
    local start peak_anon=0 pid anon
    start=$(date +%s.%N)
    bash -c "$*" >/dev/null &
    pid=$!
    while kill -0 $pid 2>/dev/null; do
        for p in $(pgrep -P $pid) $pid; do
            anon=$(awk '/RssAnon/ {print $2}' /proc/$p/status 2>/dev/null || echo 0)
            [ "${anon:-0}" -gt "$peak_anon" ] && peak_anon=$anon
        done
        sleep 0.01
    done
    wait $pid
    local end; end=$(date +%s.%N)
    local hwm; hwm=$( { /usr/bin/time -f "%M" bash -c "$*" >/dev/null; } 2>&1 | tail -1)
    printf '| %s | %.2f | %d | %d |\n' "$label" "$(echo "$end - $start" | bc)" $((hwm / 1024)) $((peak_anon / 1024))
}

echo "| command | s | peak RSS MB | peak anon MB |"
echo "|---|---:|---:|---:|"
for f in big-string big-coll; do
    measure "\`cat $f.rdb \| rdb-tool check -\`" "cat $dir/$f.rdb | $tool check -"
    measure "\`cat $f.rdb \| rdb-tool dump -\`" "cat $dir/$f.rdb | $tool dump -"
    measure "\`rdb-tool check $f.rdb\`" "$tool check $dir/$f.rdb"
    measure "\`rdb-tool dump $f.rdb\`" "$tool dump $dir/$f.rdb"
done
