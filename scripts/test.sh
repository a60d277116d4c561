#!/usr/bin/env bash
# Run the whole test suite on a fresh machine: installs what the tests need
# (Debian's redis-server and redis-tools, Redis 7.0) when missing, then runs
# cargo test. CI (.ci/run) calls this same script.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null || ! command -v redis-check-aof >/dev/null; then
    echo "== installing redis-server and redis-tools (Debian)"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server redis-tools >/dev/null
fi
# The Debian package may start a system instance; our tests start their own.

if [ ! -f ../shared/corpus/index.json ] && [ -z "${RDB_TOOL_CORPUS:-}" ]; then
    echo "error: the shared corpus is not at ../shared/corpus (set RDB_TOOL_CORPUS)" >&2
    exit 2
fi

echo "== cargo test"
cargo test --lib --bins --tests "$@"
