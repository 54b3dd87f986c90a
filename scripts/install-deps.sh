#!/usr/bin/env bash
# install-deps.sh: install what podrun's build and tests need on Debian 12
# or Ubuntu. Idempotent and non-interactive; apt-get update runs only when
# something is missing. Run as root (or with passwordless sudo).
#
#   scripts/install-deps.sh          # busybox-static containerd jq gcc libc6-dev make apparmor runc ...
#   scripts/install-deps.sh bench    # also hyperfine strace linux-perf, for benchmarks
#
# Go itself is not installed: it is expected at /usr/local/go (or on PATH).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

bench=false
for arg in "$@"; do
	case $arg in
	bench) bench=true ;;
	*) echo "usage: $0 [bench]" >&2; exit 2 ;;
	esac
done

installed() { # package
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# have PACKAGE: whether what PACKAGE provides is already there (a
# containerd from Docker's containerd.io package counts).
have() {
	case $1 in
	busybox-static) installed busybox-static ;;
	containerd) command -v containerd >/dev/null && command -v ctr >/dev/null ;;
	libc6-dev) installed libc6-dev ;;
	containernetworking-plugins) [ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] && [ -x /usr/lib/cni/portmap ] ;;
	time) [ -x /usr/bin/time ] ;;
	linux-perf) command -v perf >/dev/null ;;
	iproute2) command -v ip >/dev/null ;;
	apparmor) command -v apparmor_parser >/dev/null || [ -x /sbin/apparmor_parser ] ;;
	*) command -v "$1" >/dev/null ;;
	esac
}

# apparmor: apparmor_parser loads the test profile of integration/knobs_test.go
# (the test skips on kernels without AppArmor).
# containernetworking-plugins, iptables: `podrun pod run --network` (CNI
# bridge, host-local, portmap in /usr/lib/cni) and its tests.
# runc: integration/seccomp_test.go runs Docker's seccomp profile under runc
# and podrun and compares the results; integration/runcsem_test.go runs the
# same commands under runc as the reference. crun: its `crun spec` default
# config must run under podrun (integration/runcsem_test.go).
# iproute2: network namespaces in the probes and pod tests. time: GNU time
# measures a command's own peak RSS (integration/hostile_test.go).
pkgs=(busybox-static containerd jq gcc libc6-dev make containernetworking-plugins iptables apparmor runc crun iproute2 time)
if $bench; then
	pkgs+=(hyperfine strace linux-perf)
fi
# zsh: `podrun completion zsh` is run in integration/kubectl_cli_test.go.
pkgs+=(zsh)

missing=()
for p in "${pkgs[@]}"; do
	have "$p" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
	sudo=()
	if [ "$(id -u)" != 0 ]; then
		if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
			sudo=(sudo -n env DEBIAN_FRONTEND=noninteractive)
		else
			echo "$0: missing ${missing[*]}; run me as root" >&2
			exit 1
		fi
	fi
	# Another apt may hold the lock: wait for it, and retry once.
	aptget() {
		"${sudo[@]}" apt-get -q -y -o DPkg::Lock::Timeout=600 "$@" </dev/null
	}
	echo "install-deps: installing ${missing[*]}"
	for try in 1 2 3; do
		if aptget update >/dev/null && aptget install --no-install-recommends "${missing[@]}" >/dev/null; then
			break
		fi
		[ "$try" -lt 3 ] || { echo "$0: apt-get install ${missing[*]} failed" >&2; exit 1; }
		sleep 10
	done
fi

# Go: put /usr/local/go/bin on PATH for everyone when go is not on it.
if ! command -v go >/dev/null; then
	if [ -x /usr/local/go/bin/go ] && [ "$(id -u)" = 0 ]; then
		ln -sf /usr/local/go/bin/go /usr/local/go/bin/gofmt /usr/local/bin/
	else
		echo "install-deps: go is not on PATH; add /usr/local/go/bin to PATH" >&2
	fi
fi
