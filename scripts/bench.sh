#!/usr/bin/env bash
# bench.sh: podrun, runc and crun side by side (bench/rtbench), as root.
#
#   scripts/bench.sh [rtbench flags...]     # e.g. -rounds 50, -only run,exec
#
# Installs runc, crun, hyperfine and GNU time when missing
# (install-deps.sh bench), builds bin/podrun and bin/rtbench, makes the
# busybox bundle, then runs every runtime in one private mount namespace.
# crun 1.8.1 refuses a hybrid cgroup layout ("cgroups in hybrid mode not
# supported"), so in that namespace /sys/fs/cgroup/unified is unmounted
# (lazily, nothing changes outside it) and all three runtimes see the same
# v1 layout. The table goes to stdout and to $BENCH_OUT
# (default bench/results/latest.md). BENCH_PREBUILT=1 skips the install and
# the builds (make bench-vm: the guest sees the host's tools and binaries).
# BENCH_BASE=REV adds podrun as of git revision REV as a fourth runtime,
# "before" (scripts/build-rev.sh; bin/podrun-REV), alternated with the
# others like them: what a change gained, in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
[ "$(id -u)" = 0 ] || { echo "$0: run as root" >&2; exit 1; }

if [ -z "${BENCH_PREBUILT:-}" ]; then
	scripts/install-deps.sh bench
	make -s build
	CGO_ENABLED=0 go build -trimpath -o bin/rtbench ./bench/rtbench
	if [ -n "${BENCH_BASE:-}" ]; then
		scripts/build-rev.sh "$BENCH_BASE" "bin/podrun-$BENCH_BASE"
	fi
fi
runtimes=podrun=bin/podrun${BENCH_BASE:+,before=bin/podrun-$BENCH_BASE},runc=runc,crun=crun

# Every runtime binary starts from disk, not from the page cache its
# writer left: a binary the Go linker just wrote sits in the cache in a
# form that maps ~1.3 MiB more of it per process (peak RSS 8.1 vs 6.8 MiB
# for `podrun --version`), which an installed runc or crun never shows.
for f in bin/podrun "bin/podrun-${BENCH_BASE:-}" "$(command -v runc || true)" "$(command -v crun || true)"; do
	[ -f "$f" ] || continue
	sync "$f"
	dd if="$f" iflag=nocache count=0 status=none
done

work=$(mktemp -d /run/podrun-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
testdata/mkbundle.sh "$work/bundle" -- /bin/true >/dev/null

out=${BENCH_OUT:-bench/results/latest.md}
mkdir -p "$(dirname "$out")"
note="same config for all: busybox bundle of testdata/mkbundle.sh (runc's default spec), ociVersion 1.0.2"
if mountpoint -q /sys/fs/cgroup/unified 2>/dev/null; then
	note="$note; private mount namespace with /sys/fs/cgroup/unified unmounted (crun refuses hybrid)"
	unshare -m -- sh -c 'umount -l /sys/fs/cgroup/unified && exec "$@"' sh \
		bin/rtbench -bundle "$work/bundle" -out "$out" -note "$note" -runtimes "$runtimes" "$@"
	exit
fi
bin/rtbench -bundle "$work/bundle" -out "$out" -note "$note" -runtimes "$runtimes" "$@"
