#!/usr/bin/env bash
# test-vm.sh: run podrun's cgroup tests in throw-away QEMU VMs (the shared
# run-in-vm tool), where the host's hybrid v1 layout cannot reach:
#
#   v2       pure cgroup v2, cgroupfs driver (busybox init)
#   systemd  pure cgroup v2 under systemd as PID 1, and every container
#            created with --systemd-cgroup (only once cgroups/systemd exists)
#
#   scripts/test-vm.sh [v2] [systemd]     # default: both
#
# Everything is built on the host (go in the guest is slow); each mode is
# one VM boot running the cgroup package's tests and the TestCgroup*
# integration tests against bin/vm/podrun. The v2 mode also runs the
# tests of other features whose code differs on cgroup v2 ($v2_extra):
# exec and LightExec cloned into the container's cgroup (CLONE_INTO_CGROUP),
# the device eBPF program beside a seccomp filter, pods' cgroups (placement,
# memory limits, OOM, nothing left behind) and the supervisor's exec probes;
# and those of paths taken only on kernels older than the host's (the
# guest runs Debian 12's 6.1): the sealed podrun overlay, an image rootfs
# with a user namespace (idmapped layers attached for the overlay's create).
#
# If the VM cannot start, this fails (exit status of run-in-vm, 125).
# PODRUN_SKIP_VM=1 skips it on purpose; CI (.ci/run) never sets it.
# RUN_IN_VM names the tool (default: ../shared/vm/run-in-vm, the shared
# dir beside the clone); PODRUN_VM_TIMEOUT bounds one VM (seconds).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH=/usr/local/go/bin:$PATH

if [ "${PODRUN_SKIP_VM:-}" = 1 ]; then
	echo "test-vm: skipped (PODRUN_SKIP_VM=1)"
	exit 0
fi
modes=("$@")
if [ ${#modes[@]} -eq 0 ]; then
	modes=(v2 systemd)
fi
vm=${RUN_IN_VM:-../shared/vm/run-in-vm}
if [ ! -f "$vm" ]; then
	echo "test-vm: $vm not found: cannot run the cgroup v2 / systemd tests (PODRUN_SKIP_VM=1 skips them)" >&2
	exit 1
fi
timeout=${PODRUN_VM_TIMEOUT:-900}
go=${GO:-go}

out=bin/vm
mkdir -p "$out"
echo "test-vm: building podrun, podrun-pod, checker and test binaries on the host"
# podrun-pod next to podrun: podrun runs it for pod/image/bundle, and the
# tests find it beside $PODRUN_BINARY.
CGO_ENABLED=1 $go build -trimpath -tags 'netgo osusergo' -ldflags '-s -w -extldflags -static' -o "$out/podrun" ./cmd/podrun
CGO_ENABLED=1 $go build -trimpath -tags 'netgo osusergo' -ldflags '-s -w -extldflags -static' -o "$out/podrun-pod" ./cmd/podrun-pod
CGO_ENABLED=0 $go build -trimpath -o "$out/checker" ./testdata/checker
CGO_ENABLED=0 $go test -c -o "$out/integration.test" ./integration
CGO_ENABLED=0 $go test -c -o "$out/cgroups.test" ./cgroups
# pod and runtime link the nsenter constructor (cgo).
CGO_ENABLED=1 $go test -c -o "$out/pod.test" ./pod
CGO_ENABLED=1 $go test -c -o "$out/runtime.test" ./runtime
CGO_ENABLED=0 $go test -c -o "$out/internal-exeseal.test" ./internal/exeseal
CGO_ENABLED=0 $go test -c -o "$out/overlay.test" ./overlay
pkgs=(cgroups)
for p in cgroups/devices cgroups/systemd; do
	if [ -d "$p" ] && ls "$p"/*_test.go >/dev/null 2>&1; then
		CGO_ENABLED=0 $go test -c -o "$out/${p//\//-}.test" "./$p"
		pkgs+=("${p//\//-}")
	fi
done

# v2 only (pods have no systemd driver): package:-test.run pattern, and
# the integration tests beside TestCgroup*: about 70 s in the VM.
v2_extra_pkgs=(
	'pod:^(TestPodMemoryLimit|TestPodDestroyAfterKill|TestPodBadInputLeavesNothing)$'
	'runtime:^TestExecLight$'
	'internal/exeseal:.'
)
v2_extra='TestExecNamespacesAndCgroup|TestExecSubCgroup|TestExecPaused|TestExecDetachPidFile|TestSeccompErrnoDenyList|TestSeccompNotifyExec|TestHostileDevices|TestFdsExec|TestPodOOMKilled|TestPodCLIInitOrderExecRm|TestPodReadinessFlips'

# The guest script: each package's tests from its own directory (as go
# test runs them), then the integration tests; all run, the status is
# the first failure's.
guest() { # driver
	local s='set -u; st=0; root=$PWD; export PODRUN_BINARY=$root/bin/vm/podrun PODRUN_CHECKER=$root/bin/vm/checker;'
	s+=' echo "== guest: $(uname -r), $(stat -fc %T /sys/fs/cgroup), init $(cat /proc/1/comm)";'
	local p
	for p in "${pkgs[@]}"; do
		s+=" echo '== $p'; (cd \$root/${p//-//} && \$root/bin/vm/$p.test -test.timeout 10m) || st=1;"
	done
	local run='^TestCgroup' e
	if [ "$1" = cgroupfs ]; then
		for e in "${v2_extra_pkgs[@]}"; do
			local d=${e%%:*}
			s+=" echo '== $d ${e#*:}'; (cd \$root/$d && \$root/bin/vm/${d//\//-}.test -test.run '${e#*:}' -test.v -test.timeout 10m) || st=1;"
		done
		# Idmapped layers: 6.1's tmpfs (the guest's /tmp) has no
		# idmapped mounts, so TMPDIR goes on ext4.
		s+=" echo '== overlay TestCreateAttached, integration TestUserNSImage (TMPDIR on ext4)'; (set -e; truncate -s 1G /var/tmp/ext4.img; mkfs.ext4 -q /var/tmp/ext4.img; mkdir /var/tmp/ext4; mount -o loop /var/tmp/ext4.img /var/tmp/ext4; export TMPDIR=/var/tmp/ext4; cd \$root/overlay; \$root/bin/vm/overlay.test -test.run '^TestCreateAttached\$' -test.v; cd \$root/integration; \$root/bin/vm/integration.test -test.run '^TestUserNSImage\$' -test.v -test.timeout 5m) || st=1;"
		run="^(TestCgroup.*|$v2_extra)\$"
	fi
	s+=" echo '== integration $run ($1 driver)';"
	s+=" (cd \$root/integration && PODRUN_TEST_CGROUP_DRIVER=$1 \$root/bin/vm/integration.test -test.run '$run' -test.v -test.timeout 15m) || st=1;"
	s+=' exit $st'
	printf '%s' "$s"
}

status=0
for mode in "${modes[@]}"; do
	case $mode in
	v2) args=(--cgroup v2) driver=cgroupfs ;;
	systemd)
		if [ ! -f cgroups/systemd/systemd.go ]; then
			echo "test-vm: systemd: no systemd cgroup driver (cgroups/systemd) yet, mode skipped"
			continue
		fi
		args=(--cgroup v2 --init systemd) driver=systemd
		;;
	*) echo "test-vm: unknown mode $mode (want v2 or systemd)" >&2; exit 2 ;;
	esac
	echo "test-vm: $mode: booting the VM"
	start=$SECONDS
	rc=0
	bash "$vm" "${args[@]}" --mem 2G --timeout "$timeout" --share "$PWD" -- sh -c "$(guest $driver)" || rc=$?
	case $rc in
	0) echo "test-vm: $mode: PASS ($((SECONDS - start))s)" ;;
	124) echo "test-vm: $mode: FAIL: timed out after ${timeout}s" >&2; status=1 ;;
	125) echo "test-vm: $mode: FAIL: the VM did not run (run-in-vm exit 125); PODRUN_SKIP_VM=1 skips on purpose" >&2; status=1 ;;
	*) echo "test-vm: $mode: FAIL (exit $rc, $((SECONDS - start))s)" >&2; status=1 ;;
	esac
done
exit $status
