#!/usr/bin/env bash
# The shape of the crate in figures, to compare before and after a
# restructuring (issue 14):
#   - source lines per layer and the largest files;
#   - repeated code blocks (the `duplicates` tool, when installed);
#   - public items without docs (rustc's missing_docs lint on the library);
#   - imports that point to a higher layer, and cycles between modules;
#   - with --build: `cargo test --no-run` time and disk use from a clean
#     target directory (minutes on 2 cores).
#
#   scripts/structure-report.sh [--build]
set -euo pipefail
cd "$(dirname "$0")/.."

echo "## Source lines per layer"
python3 scripts/layers.py lines

echo
echo "## Imports against the layer order, and module cycles"
python3 scripts/layers.py imports || true

echo
echo "## Repeated code blocks (pairs of places sharing 6+ lines of one shape)"
if command -v duplicates >/dev/null; then
    duplicates --repo src --most 200 --seconds 120 | head -1
else
    echo "(the duplicates tool is not installed here)"
fi

echo
echo "## Public items without docs"
scratch=target/structure-report
CARGO_TARGET_DIR=$scratch cargo rustc -q --lib -- -W missing-docs 2>&1 |
    grep -c '^warning: missing documentation' || true

if [ "${1:-}" = --build ]; then
    echo
    echo "## cargo test --no-run from a clean target directory"
    rm -rf "$scratch/clean"
    start=$(date +%s)
    CARGO_TARGET_DIR=$scratch/clean cargo test -q --no-run 2>/dev/null
    echo "time: $(($(date +%s) - start)) s"
    echo "disk: $(du -sh "$scratch/clean" | cut -f1)"
    echo "test binaries: $(find "$scratch/clean/debug/deps" -maxdepth 1 -type f -executable | wc -l)"
    rm -rf "$scratch/clean"
fi
