#!/usr/bin/env bash
# fuzz.sh: bounded runs of the fuzz targets (make fuzz).
#
#   [GO=go] scripts/fuzz.sh FUZZTIME MINIMIZETIME pkg:FuzzName...
#
# Go 1.26's fuzzing coordinator can fail a target that found nothing:
# when -fuzztime's deadline fires, a worker's cancelled context may slip
# past the check that treats it as the normal end, and `go test` reports
# "context deadline exceeded" and exits 1 with no failing input
# (go.dev/issue/75804, fixed in Go 1.27). Such a run is reported as a
# flake and does not fail; any other failure does: a failing input
# written to testdata/fuzz, a failing seed, a panic, a build error.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
GO=${GO:-go}

# flake: the output of a failed run says only "context deadline exceeded".
flake() {
	case $1 in
	*"Failing input written to"* | *"seed#"* | *"seed corpus"* | *"panic:"* | *"[build failed]"*) return 1 ;;
	esac
	[ "$(printf '%s\n' "$1" | grep -c '^    context deadline exceeded$')" = 1 ] &&
		[ "$(printf '%s\n' "$1" | grep -c '^--- FAIL: ')" = 1 ]
}
fuzztime=$1 minimize=$2
shift 2
status=0
for t in "$@"; do
	pkg=${t%%:*} fn=${t##*:}
	echo "fuzz $pkg $fn ($fuzztime)"
	out=$("$GO" test -run '^$' -fuzz "^$fn\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "$pkg" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	[ $rc -eq 0 ] && continue
	if flake "$out"; then
		echo "fuzz $pkg $fn: the Go coordinator's end-of-run race (go.dev/issue/75804), no failing input: not a failure"
		continue
	fi
	status=1
done
exit $status
