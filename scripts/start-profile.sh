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
#   - a start-path timeline from kernel tracepoints (perf record of
#     execve's return, pivot_root, exit_group and process exit: no ptrace
#     stops, so the runtimes run at about full speed): milliseconds from
#     the runtime's execve to the init's execve (runc and podrun
#     re-execute themselves; crun does not), pivot_root, the container's
#     execve of /bin/true, its exit_group and the runtime's exit (medians
#     of RUNS).
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
	[ -z "$bin" ] || bin=$(realpath "$bin")
	[ -n "$bin" ] || { echo "$name: not found, skipped"; continue; }
	root="$work/root-$name"
	mkdir -p "$work/$name"
	for i in $(seq "$runs"); do
		(cd "$work/bundle" && strace -f -c -o "$work/$name/c.$i" "$bin" --root "$root" run "p$i" >/dev/null 2>&1)
		# System-wide (-a), not per task: perf's inherited per-thread
		# events would slow every fork and thread of the runtime.
		(cd "$work/bundle" && perf record -q -a -o "$work/$name/p.$i" \
			-e syscalls:sys_exit_execve -e syscalls:sys_enter_pivot_root \
			-e syscalls:sys_enter_exit_group -e sched:sched_process_exit \
			-e sched:sched_process_fork \
			-- "$bin" --root "$root" run "q$i" >/dev/null 2>&1)
		perf script -i "$work/$name/p.$i" -F comm,pid,tid,time,event,trace 2>/dev/null >"$work/$name/t.$i"
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
		# Lines: COMM PID/TID SECONDS: EVENT: FIELDS; only the runtime's
		# process tree counts (forks followed from its first execve).
		awk -v rt="$(basename "$bin")" '
			{ split($2, id, "/"); t = $3 + 0; ev = $4 }
			!main && ev ~ /sys_exit_execve/ && $1 == rt { main = id[1]; t0 = t; tree[main] = 1 }
			!main || !(id[1] in tree) { next }
			ev ~ /sched_process_fork/ { for (i = 5; i <= NF; i++) if ($i ~ /^child_pid=/) { sub(/child_pid=/, "", $i); tree[$i] = 1 } }
			ev ~ /sys_exit_execve/ && id[1] != main && $1 != "true" && !init { init = t }
			ev ~ /pivot_root/ && !piv { piv = t }
			ev ~ /sys_exit_execve/ && $1 == "true" { ex = t }
			ev ~ /sys_enter_exit_group/ && $1 == "true" { cex = t }
			ev ~ /sched_process_exit/ && id[1] == main && id[2] == main { end = t }
			function ms(x) { return x ? sprintf("%.2f", (x - t0) * 1000) : "-" }
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
