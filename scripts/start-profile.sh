#!/usr/bin/env bash
# start-profile.sh: where a `run` of /bin/true spends its system calls and
# time, for podrun and the other runtimes on this host (root).
#
#   scripts/start-profile.sh [-n RUNS] [name=binary ...]
#     default: podrun=bin/podrun runc=runc crun=crun, 20 runs
#
# For each runtime, in the busybox bundle of testdata/mkbundle.sh (runc's
# default spec, as make bench), it prints
#   - system calls per run (strace -f -c; median of RUNS) and the ten most
#     frequent, per run;
#   - a start-path timeline (strace -f -ttt --seccomp-bpf, tracing only
#     execve, pivot_root and exit_group, so the other calls run at full
#     speed): milliseconds from the runtime's execve to the init's execve
#     (runc and podrun re-execute themselves; crun does not), pivot_root,
#     the container's execve of /bin/true, its exit and the runtime's exit
#     (medians of RUNS). Tracing still slows each traced call, so compare
#     runtimes, not these numbers with make bench's.
# On a hybrid cgroup host it runs in a private mount namespace with
# /sys/fs/cgroup/unified unmounted, like scripts/bench.sh (crun refuses
# hybrid).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "$0: run as root" >&2; exit 1; }

runs=20
if [ "${1:-}" = -n ]; then runs=$2; shift 2; fi
[ $# -gt 0 ] || set -- podrun=bin/podrun runc=runc crun=crun

if [ -z "${START_PROFILE_INNER:-}" ] && mountpoint -q /sys/fs/cgroup/unified 2>/dev/null; then
	export START_PROFILE_INNER=1
	exec unshare -m -- sh -c 'umount -l /sys/fs/cgroup/unified && exec "$@"' sh "$0" -n "$runs" "$@"
fi

work=$(mktemp -d /run/podrun-profile.XXXXXX)
trap 'rm -rf "$work"' EXIT
testdata/mkbundle.sh "$work/bundle" -- /bin/true >/dev/null
# crun 1.8.1 refuses ociVersion 1.3.0 (as in make bench).
sed -i 's/"ociVersion": *"[^"]*"/"ociVersion": "1.0.2"/' "$work/bundle/config.json"

median() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "-"}'; }

for spec in "$@"; do
	name=${spec%%=*} bin=${spec#*=}
	bin=$(command -v "$bin" || true)
	[ -n "$bin" ] || { echo "$name: not found, skipped"; continue; }
	root="$work/root-$name"
	mkdir -p "$work/$name"
	for i in $(seq "$runs"); do
		(cd "$work/bundle" && strace -f -c -o "$work/$name/c.$i" "$bin" --root "$root" run "p$i" >/dev/null 2>&1)
		(cd "$work/bundle" && strace -f -ttt --seccomp-bpf -e trace=execve,pivot_root,exit_group \
			-o "$work/$name/t.$i" "$bin" --root "$root" run "q$i" >/dev/null 2>&1)
	done
	echo "## $name ($("$bin" --version | head -1))"
	echo
	printf 'system calls per run: %s (median of %s)\n\n' \
		"$(for f in "$work/$name"/c.*; do awk '$NF == "total" {print $(NF-2)}' "$f"; done | median)" "$runs"
	echo '| call | per run |'
	echo '|---|---:|'
	cat "$work/$name"/c.* | awk -v n="$runs" '
		$NF != "total" && $1 ~ /^[0-9.]+$/ { c[$NF] += $4 }
		END { for (k in c) printf "%d %s\n", c[k] / n, k }' | sort -rn | head -10 |
		awk '{printf "| %s | %d |\n", $2, $1}'
	echo
	for f in "$work/$name"/t.*; do
		awk '
			NR == 1 { main = $1; t0 = $2 }
			/execve\(/ && $1 != main && !init && $0 !~ /"\/bin\/true"/ { init = $2 }
			/pivot_root\(/ && !piv { piv = $2 }
			/execve\("\/bin\/true"/ { ex = $2; cpid = $1 }
			$1 == cpid && /exit_group\(/ { cex = $2 }
			$1 == main && /\+\+\+ exited/ { end = $2 }
			function ms(t) { return t ? sprintf("%.2f", (t - t0) * 1000) : "-" }
			END { print ms(init), ms(piv), ms(ex), ms(cex), ms(end) }' "$f"
	done >"$work/$name/timeline"
	echo '| ms from the runtime'"'"'s execve | median |'
	echo '|---|---:|'
	col=1
	for label in "init re-executed" "pivot_root" "container execve" "container exit_group" "runtime exits"; do
		printf '| %s | %s |\n' "$label" "$(awk -v c=$col '$c != "-" {print $c}' "$work/$name/timeline" | median)"
		col=$((col + 1))
	done
	echo
done
