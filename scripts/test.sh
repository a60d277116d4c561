#!/usr/bin/env bash
# Run the whole test suite on a fresh machine: installs the real servers the
# tests use as oracles when missing (scripts/install-servers.sh), then runs
# cargo test. CI (.ci/run) calls this script twice: on the real clock, and
# with `--clock +365d`.
#
#   scripts/test.sh [--clock OFFSET] [cargo test arguments…]
#
# --clock OFFSET runs every test binary under libfaketime with the clock moved
# by OFFSET (`+365d`, `+3650d`: faketime's syntax); the servers the tests start
# inherit it, except Debian's Redis 7.0, which cannot run under libfaketime
# (tests/common/redis.rs starts it on the real clock).
set -euo pipefail
cd "$(dirname "$0")/.."

clock=""
if [ "${1:-}" = "--clock" ]; then
    clock="$2"
    shift 2
fi

scripts/install-servers.sh

if [ ! -f ../shared/corpus/index.json ] && [ -z "${RDB_TOOL_CORPUS:-}" ]; then
    echo "error: the shared corpus is not at ../shared/corpus (set RDB_TOOL_CORPUS)" >&2
    exit 2
fi

if [ -n "$clock" ]; then
    host="$(rustc -vV | sed -n 's/^host: //p' | tr 'a-z-' 'A-Z_')"
    # Only the test binaries run under the fake clock: cargo and the build
    # keep the real one. Monotonic clocks stay real so timeouts stay timeouts.
    export "CARGO_TARGET_${host}_RUNNER=faketime -f $clock"
    export DONT_FAKE_MONOTONIC=1
    echo "== cargo test, clock moved $clock: $(faketime -f "$clock" date -u)"
else
    echo "== cargo test"
fi
cargo test --lib --bins --tests "$@"
