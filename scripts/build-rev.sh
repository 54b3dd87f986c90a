#!/usr/bin/env bash
# build-rev.sh: podrun (the lean binary) as of a git revision, for
# benchmarks that run it beside the current build (make bench BENCH_BASE=).
#
#   scripts/build-rev.sh REV OUT
#
# Builds REV with its own `make build` in a temporary worktree (removed
# afterwards) and copies its bin/podrun to OUT. Nothing of the current tree
# changes.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: $0 REV OUT" >&2; exit 2; }
rev=$1 out=$2
src=$(mktemp -d /tmp/podrun-rev.XXXXXX)
trap 'git worktree remove --force "$src" >/dev/null 2>&1 || rm -rf "$src"' EXIT
git worktree add --quiet --detach "$src" "$rev"
make -s -C "$src" build
mkdir -p "$(dirname "$out")"
cp "$src/bin/podrun" "$out"
