#!/bin/sh
# funcsizes.sh [COMMIT...]: the 10 largest functions and files (lines,
# tests excluded) of supervisor/, runtime/ and cgroups/ at each commit
# (default: the work tree), measured by internal/tools/funcsizes.
set -eu
cd "$(dirname "$0")/.."
dirs="supervisor runtime cgroups"
tool=$(mktemp -d)
trap 'rm -rf "$tool"' EXIT
go build -o "$tool/funcsizes" ./internal/tools/funcsizes
if [ $# -eq 0 ]; then
	"$tool/funcsizes" $dirs
	exit
fi
for c in "$@"; do
	echo "== $c ($(git log -1 --format=%h "$c"))"
	mkdir "$tool/tree"
	git archive "$c" $dirs | tar -x -C "$tool/tree"
	"$tool/funcsizes" -root "$tool/tree" $dirs
	rm -rf "$tool/tree"
done
