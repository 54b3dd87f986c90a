#!/usr/bin/env bash
# busybox-image.sh: write an OCI image layout of Debian's busybox-static
# (the rootfs of testdata/mkbundle.sh, one gzip layer, Cmd ["sh"]) for
# `podrun image import`, so that pods run without a registry.
#
#   scripts/busybox-image.sh DIR REF     # e.g. /tmp/layout docker.io/library/busybox:1.36
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 DIR REF" >&2; exit 2; }
layout=$1 ref=$2
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$here/testdata/mkbundle.sh" "$work/bundle" >/dev/null
mkdir -p "$layout/blobs/sha256"

# blob FILE: move FILE into the layout, print "digest size".
blob() {
	local d s
	d=$(sha256sum "$1" | cut -d' ' -f1)
	s=$(stat -c %s "$1")
	mv "$1" "$layout/blobs/sha256/$d"
	echo "sha256:$d $s"
}

tar -C "$work/bundle/rootfs" --numeric-owner -cf "$work/layer.tar" .
diffid="sha256:$(sha256sum "$work/layer.tar" | cut -d' ' -f1)"
gzip -1 "$work/layer.tar"
read -r ldig lsize < <(blob "$work/layer.tar.gz")
arch=$(dpkg --print-architecture 2>/dev/null || go env GOARCH)
jq -n --arg arch "$arch" --arg diffid "$diffid" '{architecture: $arch, os: "linux",
	config: {Cmd: ["sh"], Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
	rootfs: {type: "layers", diff_ids: [$diffid]}}' >"$work/config.json"
read -r cdig csize < <(blob "$work/config.json")
jq -n --arg cd "$cdig" --argjson cs "$csize" --arg ld "$ldig" --argjson ls "$lsize" '{schemaVersion: 2,
	mediaType: "application/vnd.oci.image.manifest.v1+json",
	config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
	layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $ld, size: $ls}]}' >"$work/manifest.json"
read -r mdig msize < <(blob "$work/manifest.json")
jq -n --arg d "$mdig" --argjson s "$msize" --arg ref "$ref" '{schemaVersion: 2, manifests: [{
	mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
	annotations: {"org.opencontainers.image.ref.name": $ref}}]}' >"$layout/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
