#!/usr/bin/env bash
# bench-pod.sh: a pod's start and removal, podrun against podman + runc
# (bench/podbench), as root.
#
#   scripts/bench-pod.sh [podbench flags...]    # e.g. -rounds 50
#
# The pod: an infra and two busybox-static containers running sleep (the
# image of scripts/busybox-image.sh, imported into a private podrun store
# and loaded into a private podman store). podrun: `pod run -d -f` until
# both containers run (status.json), `pod rm -f`. podman (Debian's 4.3,
# installed here when missing, with catatonit for its infra): `pod create
# --network none` + two `run -d --pod`, `pod rm -f -t 0`; runc, the cgroupfs
# driver, a private --root/--runroot. Rounds alternate the order. Stores
# and data live under /var/tmp (disk, as /var/lib), runtime state under
# /run (tmpfs), for both. PODBENCH_PODMAN=0 skips podman. The table goes
# to stdout and to $BENCH_OUT (default bench/results/pod.md).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
[ "$(id -u)" = 0 ] || { echo "$0: run as root" >&2; exit 1; }

scripts/install-deps.sh bench
use_podman=${PODBENCH_PODMAN:-1}
if [ "$use_podman" = 1 ] && ! { command -v podman >/dev/null && command -v catatonit >/dev/null; }; then
	echo "bench-pod: installing podman catatonit"
	DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=600 install --no-install-recommends podman catatonit >/dev/null </dev/null
fi
make -s build
# As make bench (scripts/bench.sh): the binaries start from disk, not
# from the page cache the linker left (it maps more of them per process).
for f in bin/podrun bin/podrun-pod; do sync "$f"; dd if="$f" iflag=nocache count=0 status=none; done
CGO_ENABLED=0 go build -trimpath -o bin/podbench ./bench/podbench

disk=$(mktemp -d /var/tmp/podrun-benchpod.XXXXXX)
run=$(mktemp -d /run/podrun-benchpod.XXXXXX)
podman_args=()
cleanup() {
	if [ ${#podman_args[@]} -gt 0 ]; then
		podman "${podman_args[@]}" pod rm -a -f -t 0 >/dev/null 2>&1 || true
		podman "${podman_args[@]}" system reset -f >/dev/null 2>&1 || true
	fi
	rm -rf "$disk" "$run"
}
trap cleanup EXIT
ref=docker.io/library/busybox:1.36
scripts/busybox-image.sh "$disk/layout" "$ref" >/dev/null
bin/podrun image import --store "$disk/store" -q "$disk/layout" >/dev/null

note="podrun $(git describe --always --dirty 2>/dev/null || echo ?); $(nproc) CPUs; kernel $(uname -r)"
flags=(-store "$disk/store" -image "$ref" -work "$run")
if [ "$use_podman" = 1 ]; then
	# podman asks for RLIMIT_NOFILE/NPROC of 1048576 by default, more
	# than this host's hard limits allow: a containers.conf lowers them.
	printf '[containers]\ndefault_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\n' >"$disk/containers.conf"
	export CONTAINERS_CONF=$disk/containers.conf
	podman_args=(--root "$disk/podman" --runroot "$run/podman" --runtime runc --cgroup-manager cgroupfs
		--storage-driver overlay --events-backend file)
	tar -C "$disk/layout" -cf "$disk/image.tar" .
	podman "${podman_args[@]}" load -q -i "$disk/image.tar" >/dev/null
	note="$note; $(podman --version) with runc $(runc --version | awk 'NR==1{print $3}'), cgroupfs, --network none, rm -f -t 0"
	flags+=(-podman podman -podman-args "${podman_args[*]}")
fi
out=${BENCH_OUT:-bench/results/pod.md}
mkdir -p "$(dirname "$out")"
bin/podbench "${flags[@]}" -out "$out" -note "$note" "$@"
