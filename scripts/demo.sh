#!/usr/bin/env bash
# demo.sh: `make demo`. Runs the demo pod of testdata/pods/demo.yaml (busybox
# httpd, and a sidecar fetching from it over localhost), shows its status,
# logs and an exec, then removes it. Everything lives in a temp dir: the
# runtime root, the image store (busybox-static imported under the name
# the manifest uses, so no registry is needed) and the pod data.
#
#   scripts/demo.sh [PODRUN]        # as root
set -euo pipefail
podrun=$(readlink -f "${1:-bin/podrun}")
here=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "$0: run as root" >&2; exit 1; }
# podrun runs podrun-pod (next to it) for the pod and image commands.
[ -x "$(dirname "$podrun")/podrun-pod" ] || { echo "$0: no podrun-pod next to $podrun (make build)" >&2; exit 1; }
dir=$(mktemp -d /tmp/podrun-demo.XXXXXX)
P=("$podrun" --root "$dir/run")
export PODRUN_STORE=$dir/store PODRUN_POD_DATA=$dir/data
cleanup() {
	"${P[@]}" pod rm -f demo >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT
run() {
	echo "+ podrun $*" >&2
	"${P[@]}" "$@"
}

"$here/scripts/busybox-image.sh" "$dir/layout" docker.io/library/busybox:1.36
run image import --name docker.io/library/busybox:1.36 "$dir/layout"
run pod run -d -f "$here/testdata/pods/demo.yaml"
run pod wait --for condition=Ready --timeout 60s demo
# The sidecar fetches every 3 s: wait for its first line.
for _ in $(seq 100); do
	[ -n "$("${P[@]}" pod logs -c fetcher demo)" ] && break
	sleep 0.1
done
run pod ls
run pod status demo
run pod logs -c fetcher demo
run pod exec demo -c web -- wget -q -O - http://localhost:8080/
run pod inspect demo | jq -c '{phase: .status.phase,
	containers: [.status.containerStatuses[] | {name, ready, state: (.state | keys[0])}]}'
run pod rm -f demo
