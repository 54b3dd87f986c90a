#!/usr/bin/env bash
# bench-image.sh: time `podrun image import` (verify + unpack every layer
# into the store) against `umoci unpack` (Debian's umoci) of the same OCI
# image layout, built here from this machine's files (three gzip layers:
# /usr/local/go/src or /usr/share/locale, /usr/bin, /usr/share/doc).
#
#   scripts/bench-image.sh [PODRUN] [RUNS]
#
# Run as root (both tools unpack with owners). Prints the median wall time
# of each and the ratio umoci/podrun.
set -euo pipefail
podrun=$(readlink -f "${1:-bin/podrun}")
runs=${2:-5}
[ "$(id -u)" = 0 ] || { echo "$0: run as root" >&2; exit 1; }
[ -x "$podrun" ] || { echo "$0: no podrun at $podrun (make build)" >&2; exit 1; }
# podrun runs podrun-pod (next to it) for the image commands.
[ -x "$(dirname "$podrun")/podrun-pod" ] || { echo "$0: no podrun-pod next to $podrun (make build)" >&2; exit 1; }
if ! command -v umoci >/dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q umoci </dev/null >/dev/null ||
		{ apt-get update -q </dev/null >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q umoci </dev/null >/dev/null; }
fi
command -v jq >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q jq </dev/null >/dev/null

work=$(mktemp -d /var/tmp/podrun-bench-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
layout=$work/layout
mkdir -p "$layout/blobs/sha256"

# blob FILE: move FILE into the layout, print "digest size".
blob() {
	local d s
	d=$(sha256sum "$1" | cut -d' ' -f1)
	s=$(stat -c %s "$1")
	mv "$1" "$layout/blobs/sha256/$d"
	echo "sha256:$d $s"
}

layers=() diffids=()
src=usr/local/go/src
[ -d "/$src" ] || src=usr/share/locale
for dir in "$src" usr/bin usr/share/doc; do
	tar -C / --numeric-owner -cf "$work/layer.tar" "$dir" 2>/dev/null || true
	diffids+=("sha256:$(sha256sum "$work/layer.tar" | cut -d' ' -f1)")
	gzip -1 "$work/layer.tar"
	layers+=("$(blob "$work/layer.tar.gz")")
done
arch=$(go env GOARCH 2>/dev/null || dpkg --print-architecture)
jq -n --arg arch "$arch" --args '{architecture: $arch, os: "linux", config: {Cmd: ["sh"]},
	rootfs: {type: "layers", diff_ids: $ARGS.positional}}' "${diffids[@]}" >"$work/config.json"
read -r cdig csize < <(blob "$work/config.json")
ljson=$(for l in "${layers[@]}"; do set -- $l; jq -n --arg d "$1" --argjson s "$2" \
	'{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $d, size: $s}'; done | jq -s .)
jq -n --arg cd "$cdig" --argjson cs "$csize" --argjson layers "$ljson" '{schemaVersion: 2,
	mediaType: "application/vnd.oci.image.manifest.v1+json",
	config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
	layers: $layers}' >"$work/manifest.json"
read -r mdig msize < <(blob "$work/manifest.json")
jq -n --arg d "$mdig" --argjson s "$msize" '{schemaVersion: 2, manifests: [{
	mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
	annotations: {"org.opencontainers.image.ref.name": "bench"}}]}' >"$layout/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
echo "image: $(du -sh "$layout/blobs" | cut -f1) compressed, $(du -shc "/$src" /usr/bin /usr/share/doc 2>/dev/null | tail -1 | cut -f1) unpacked, 3 layers"

# time_cmd CLEANUP CMD...: median wall seconds over $runs runs.
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_runs() {
	local i t0 t1
	for i in $(seq "$runs"); do
		rm -rf "$work/out"; sync
		t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N)
		echo "$t1 - $t0" | bc -l
	done | median
}
podrun_t=$(time_runs "$podrun" image import --store "$work/out" --name bench "$layout")
umoci_t=$(time_runs umoci unpack --image "$layout:bench" "$work/out")
rm -rf "$work/out"
printf 'podrun image import: %.3f s (median of %d)\n' "$podrun_t" "$runs"
printf 'umoci unpack:        %.3f s (median of %d)\n' "$umoci_t" "$runs"
printf 'ratio umoci/podrun:  %.2fx\n' "$(echo "$umoci_t / $podrun_t" | bc -l)"
