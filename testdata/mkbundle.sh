#!/usr/bin/env bash
# mkbundle.sh: build an OCI bundle for podrun's tests from Debian's
# busybox-static.
#
#   testdata/mkbundle.sh [--checker PATH] [--busybox PATH] DIR [-- ARGS...]
#
# Writes DIR/rootfs (busybox, one symlink per applet in /bin, /etc/passwd,
# /etc/group, /etc/hostname, /etc/hosts, empty /proc /sys /dev /tmp /root
# /home/tester, and the checker at /usr/bin/checker when --checker or
# $CHECKER names one) and DIR/config.json: the default spec `runc spec`
# writes (runc's libcontainer/specconv/example.go) with terminal false and
# process.args set to ARGS (default: sh). The cgroup namespace is always
# in (runc spec and podrun spec add it only on cgroup v2 hosts).
#
# Users: root 0, daemon 1, tester 1000 (group tester 1000, supplementary
# group extra 1001), nobody 65534.
set -euo pipefail

usage() {
	echo "usage: $0 [--checker PATH] [--busybox PATH] DIR [-- ARGS...]" >&2
	exit 2
}

checker=${CHECKER:-}
busybox=${BUSYBOX:-/bin/busybox}
dir=
while [ $# -gt 0 ]; do
	case $1 in
	--checker) [ $# -ge 2 ] || usage; checker=$2; shift 2 ;;
	--checker=*) checker=${1#*=}; shift ;;
	--busybox) [ $# -ge 2 ] || usage; busybox=$2; shift 2 ;;
	--busybox=*) busybox=${1#*=}; shift ;;
	--) shift; break ;;
	-h|--help) usage ;;
	-*) echo "$0: unknown flag $1" >&2; usage ;;
	*) [ -z "$dir" ] || usage; dir=$1; shift ;;
	esac
done
[ -n "$dir" ] || usage
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(sh)

apt_install() {
	if [ "$(id -u)" != 0 ]; then
		echo "$0: $* not installed; run scripts/install-deps.sh as root" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q "$@" </dev/null >/dev/null ||
		{ apt-get update -q </dev/null >/dev/null && apt-get install -y -q "$@" </dev/null >/dev/null; }
}

if [ ! -x "$busybox" ] && [ "$busybox" = /bin/busybox ]; then
	apt_install busybox-static
fi
[ -x "$busybox" ] || { echo "$0: no busybox at $busybox" >&2; exit 1; }
# A dynamically linked busybox (Debian's package "busybox") cannot run in
# the bare rootfs.
if ldd "$busybox" >/dev/null 2>&1; then
	echo "$0: $busybox is dynamically linked; install busybox-static" >&2
	exit 1
fi
command -v jq >/dev/null || apt_install jq
if [ -n "$checker" ] && [ ! -x "$checker" ]; then
	echo "$0: checker $checker is not an executable file" >&2
	exit 1
fi
# Absolute paths: the rootfs is filled from inside it.
busybox=$(readlink -f "$busybox")
[ -z "$checker" ] || checker=$(readlink -f "$checker")

mkdir -p "$dir"
rootfs=$dir/rootfs
if [ -e "$rootfs" ]; then
	echo "$0: $rootfs already exists" >&2
	exit 1
fi
mkdir -p "$rootfs"
(
	cd "$rootfs"
	mkdir -p bin sbin usr/bin usr/sbin etc proc sys dev tmp root home/tester var
	chmod 1777 tmp
	chmod 0700 root
	cp "$busybox" bin/busybox
	chmod 0755 bin/busybox
	for applet in $("$busybox" --list); do
		[ "$applet" = busybox ] || ln -s busybox "bin/$applet"
	done
	if [ -n "$checker" ]; then
		cp "$checker" usr/bin/checker
		chmod 0755 usr/bin/checker
	fi
	cat >etc/passwd <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
tester:x:1000:1000:tester:/home/tester:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
	cat >etc/group <<'GROUP'
root:x:0:
daemon:x:1:
tty:x:5:
tester:x:1000:
extra:x:1001:tester
nogroup:x:65534:
GROUP
	echo podrun >etc/hostname
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >etc/hosts
	if [ "$(id -u)" = 0 ]; then
		chown 1000:1000 home/tester
	fi
)

# runc spec's default (specconv.Example), with terminal false and the
# cgroup namespace. ociVersion is the runtime-spec version podrun's go.mod
# pins. Each argument goes in as --arg aN (jq 1.6 would read a "-c" among
# positional --args as its own flag).
jqargs=()
for i in "${!args[@]}"; do
	jqargs+=(--arg "a$i" "${args[$i]}")
done
jq -n --argjson n "${#args[@]}" "${jqargs[@]}" '
[range(0; $n) as $i | $ARGS.named["a\($i)"]] as $args | {
	ociVersion: "1.3.0",
	process: {
		terminal: false,
		user: {uid: 0, gid: 0},
		args: $args,
		env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
		cwd: "/",
		capabilities: {
			bounding: ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
			effective: ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
			permitted: ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
		},
		rlimits: [{type: "RLIMIT_NOFILE", hard: 1024, soft: 1024}],
		noNewPrivileges: true
	},
	root: {path: "rootfs", readonly: true},
	hostname: "runc",
	mounts: [
		{destination: "/proc", type: "proc", source: "proc"},
		{destination: "/dev", type: "tmpfs", source: "tmpfs",
		 options: ["nosuid", "strictatime", "mode=755", "size=65536k"]},
		{destination: "/dev/pts", type: "devpts", source: "devpts",
		 options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
		{destination: "/dev/shm", type: "tmpfs", source: "shm",
		 options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
		{destination: "/dev/mqueue", type: "mqueue", source: "mqueue",
		 options: ["nosuid", "noexec", "nodev"]},
		{destination: "/sys", type: "sysfs", source: "sysfs",
		 options: ["nosuid", "noexec", "nodev", "ro"]},
		{destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup",
		 options: ["nosuid", "noexec", "nodev", "relatime", "ro"]}
	],
	linux: {
		resources: {devices: [{allow: false, access: "rwm"}]},
		namespaces: [{type: "pid"}, {type: "network"}, {type: "ipc"}, {type: "uts"}, {type: "mount"}, {type: "cgroup"}],
		maskedPaths: [
			"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
			"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
			"/proc/sched_debug", "/sys/firmware", "/proc/scsi",
			"/sys/devices/virtual/tpm"
		],
		readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
	}
}' >"$dir/config.json"
