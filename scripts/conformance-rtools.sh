#!/usr/bin/env bash
# conformance-rtools.sh: the OCI runtime-tools validation suite against
# podrun, with runc as the reference (`make test-rtools`; root).
#
#   scripts/conformance-rtools.sh [rtools flags...]   # e.g. -only 'linux_ns_'
#
# Fetches github.com/opencontainers/runtime-tools at $RTOOLS_VERSION through
# the Go module proxy, builds its validation/* programs and a static
# runtimetest once (cached under the Go build cache, keyed by the version
# and the pinned go.mod/go.sum in testdata/conformance/rtools: v0.9.0
# predates modules, so its dependencies are pinned there), then runs every
# program against $PODRUN and $RTOOLS_REFERENCE (default runc; empty: no
# reference run) with conformance/rtools (bin/rtools), which fails on any podrun failure
# not in testdata/conformance/rtools-expected-failures.txt. Each program's
# TAP and stderr stay in $RTOOLS_OUT (default bin/conformance-rtools).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
[ "$(id -u)" = 0 ] || { echo "$0: run as root" >&2; exit 1; }

RTOOLS_VERSION=${RTOOLS_VERSION:-v0.9.0}
PODRUN=${PODRUN:-bin/podrun}
RTOOLS_REFERENCE=${RTOOLS_REFERENCE-runc}
RTOOLS_OUT=${RTOOLS_OUT:-bin/conformance-rtools}
RTOOLS_TIMEOUT=${RTOOLS_TIMEOUT:-2m}
pins=testdata/conformance/rtools

key=$(cat "$pins/go.mod" "$pins/go.sum" | sha256sum | cut -c1-12)
cache=$(go env GOCACHE)/podrun-rtools/$RTOOLS_VERSION-$key
if [ ! -e "$cache/built" ]; then
	dir=$(go mod download -json "github.com/opencontainers/runtime-tools@$RTOOLS_VERSION" | jq -r .Dir)
	[ -d "$dir/validation" ] || { echo "$0: no validation/ in $dir" >&2; exit 1; }
	rm -rf "$cache"
	mkdir -p "$cache"
	# A writable copy with the pinned go.mod: the programs import the
	# module's own packages, so they build from inside it.
	cp -r "$dir" "$cache/src"
	chmod -R u+w "$cache/src"
	cp "$pins/go.mod" "$pins/go.sum" "$cache/src/"
	echo "building runtime-tools $RTOOLS_VERSION validation programs into $cache/bin"
	(
		cd "$cache/src"
		export GOFLAGS="-mod=readonly -buildvcs=false"
		go build -o "$cache/bin/" ./validation/...
		CGO_ENABLED=0 go build -o "$cache/bin/runtimetest" ./cmd/runtimetest
	)
	touch "$cache/built"
fi

go build -o bin/rtools ./conformance/rtools
reference=()
[ -n "$RTOOLS_REFERENCE" ] && reference=(-reference "$RTOOLS_REFERENCE")
rm -rf "$RTOOLS_OUT"
# In a mount namespace of its own (mounts from the host still propagate
# in): a program without a mount namespace (linux_ns_itype) has the
# runtime mount /proc, /sys and /dev onto its bundle in the caller's
# namespace; those mounts must end with the run, not stay on the host.
unshare --mount --propagation slave bin/rtools \
	-bin "$cache/bin" -rootfs "$cache/src/rootfs-amd64.tar.gz" \
	-runtime "$PODRUN" "${reference[@]}" \
	-expected testdata/conformance/rtools-expected-failures.txt \
	-timeout "$RTOOLS_TIMEOUT" -out "$RTOOLS_OUT" "$@"
