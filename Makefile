# podrun's build. `make test` and `make demo` install what they need first
# (scripts/install-deps.sh: run them as root on Debian 12 or Ubuntu).

GO ?= go
PREFIX ?= /usr/local
BINDIR ?= bin
PODRUN ?= $(BINDIR)/podrun
# podrun-pod (pod, image, bundle, completion) must sit next to podrun,
# which executes it for those commands.
PODRUN_POD ?= $(dir $(PODRUN))podrun-pod
CHECKER ?= $(BINDIR)/checker
GOTESTFLAGS ?= -count=1 -p 1

# podrun may carry a small cgo constructor: link it statically (glibc's
# libc.a from libc6-dev) with the pure-Go resolver and user lookup.
# urfave_cli_no_docs drops cli's man/markdown generator (go-md2man,
# blackfriday): 0.4 ms of package init in every podrun process, twice per
# container start.
PODRUN_TAGS ?= netgo osusergo urfave_cli_no_docs
PODRUN_LDFLAGS ?= -s -w -extldflags -static
# The Go runtime of every podrun process is told not to back its heap with
# transparent huge pages (GODEBUG disablethp=1): where THP is "always"
# (Debian's, RHEL's, Fedora's kernels) a short-lived runtime otherwise
# faults in zeroed 2 MiB pages for a heap of a few hundred KiB (`podrun
# --version` 10.5 -> 6.8 MiB peak RSS in the cgroup v2 VM). The setting is
# read once at start and no //go:debug line takes it, so it goes into the
# binary's default GODEBUG, after what the go command computes for the
# package (its //go:debug lines and go.mod's compatibility settings); a
# user's GODEBUG still overrides it.
godebug = -X runtime.godebugDefault=$(shell $(GO) list -f '{{.DefaultGODEBUG}}' $(1)),disablethp=1

# Go lives at /usr/local/go on the project's machines.
export PATH := /usr/local/go/bin:$(PATH)

.PHONY: all build checker deps test test-host test-critest test-vm test-rtools fuzz demo lint install clean bench-image bench-supervisor bench bench-pod bench-vm

all: build checker

# Two binaries: podrun, the runtime (runc's commands and the containers'
# init), linking only what starts containers; podrun-pod, the pod, image,
# bundle and completion commands with all they need (podrun runs it for
# them).
build:
	CGO_ENABLED=1 $(GO) build -trimpath -tags '$(PODRUN_TAGS)' -ldflags '$(PODRUN_LDFLAGS) $(call godebug,./cmd/podrun)' -o $(PODRUN) ./cmd/podrun
	CGO_ENABLED=1 $(GO) build -trimpath -tags '$(PODRUN_TAGS)' -ldflags '$(PODRUN_LDFLAGS) $(call godebug,./cmd/podrun-pod)' -o $(PODRUN_POD) ./cmd/podrun-pod

checker:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(CHECKER) ./testdata/checker

deps:
	scripts/install-deps.sh

# One run covers the unit tests and, as root, the privileged ones (they
# skip themselves otherwise). -p 1: privileged tests share the machine.
# Then the field's conformance suites: test-rtools (OCI runtime-tools
# validation) and test-critest (Kubernetes CRI validation); and test-vm:
# the cgroup tests again under cgroup v2 and under systemd.
test: deps test-host fuzz test-rtools test-critest test-vm

test-host: deps
	$(GO) vet ./... ./testdata/checker ./testdata/critest/...
	$(GO) test $(GOTESTFLAGS) ./...

# The cgroup package tests and the TestCgroup* integration tests in
# throw-away VMs (../shared/vm/run-in-vm): pure cgroup v2 with the cgroupfs
# driver, then cgroup v2 under systemd with --systemd-cgroup; one boot
# each. The v2 boot also runs the exec/LightExec, seccomp+devices and pod
# tests whose code differs on v2, and the old-kernel paths of the sealed
# binary and idmapped image layers (the v2 boot: 2-4 minutes with the host
# idle to busy, about 70 s of them for those). A VM that cannot start fails the target;
# PODRUN_SKIP_VM=1 skips it on purpose (CI never sets it).
# Bounded runs of every fuzz target (FUZZTIME each; the corpus found so
# far lives in the Go build cache, regressions in testdata/fuzz/).
# scripts/fuzz.sh does not count Go 1.26's end-of-run coordinator race
# (go.dev/issue/75804: "context deadline exceeded", no failing input) as a
# failure. FUZZMINIMIZETIME bounds the shrinking of each new interesting input: at
# Go's default of 60 s one find on a large seed (a full Pod manifest) held
# a worker, and its execs, for longer than the whole run.
FUZZTIME ?= 10s
FUZZMINIMIZETIME ?= 1s
FUZZ_TARGETS = ./runtime:FuzzLoadSpec ./runtime:FuzzSpecFields ./runtime:FuzzDecodeSpec \
	./seccomp:FuzzCompile ./seccomp:FuzzCompileJSON ./pod/manifest:FuzzParse \
	./overlay/layer:FuzzUnpack ./image/fetch:FuzzResolveManifest ./namespaces:FuzzDecodePlan
fuzz:
	GO=$(GO) scripts/fuzz.sh $(FUZZTIME) $(FUZZMINIMIZETIME) $(FUZZ_TARGETS)

test-vm:
	GO=$(GO) bash scripts/test-vm.sh

# The OCI runtime-tools validation programs (runtime-tools v0.9.0 through
# the Go proxy, built once into the Go build cache) against podrun, runc as
# the reference: any podrun failure not in
# testdata/conformance/rtools-expected-failures.txt fails the target
# (scripts/conformance-rtools.sh; root; each program's TAP in
# bin/conformance-rtools/).
test-rtools: deps build
	PODRUN=$(PODRUN) scripts/conformance-rtools.sh

# critest (Kubernetes CRI validation, sigs.k8s.io/cri-tools) against a
# private containerd 1.6 running podrun as its runc, and runc alongside as
# the reference, in throw-away namespaces with images served locally
# (scripts/conformance-critest.sh). A podrun failure not listed in
# testdata/conformance/critest-expected-failures.txt fails the target.
test-critest: deps build
	scripts/conformance-critest.sh $(PODRUN)

# The demo pod (testdata/pods/demo.yaml: busybox httpd and a sidecar that
# fetches from it over localhost), its status, logs and an exec, then
# pod rm; all in a temp dir (scripts/demo.sh).
demo: deps build
	scripts/demo.sh $(PODRUN)

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt -l:"; echo "$$out"; exit 1; fi
	$(GO) vet ./... ./testdata/checker ./testdata/critest/...

install: build
	install -D -m 0755 $(PODRUN) $(DESTDIR)$(PREFIX)/bin/podrun
	install -D -m 0755 $(PODRUN_POD) $(DESTDIR)$(PREFIX)/bin/podrun-pod

clean:
	rm -rf $(BINDIR)

# Pod supervisor cost: RSS and CPU of a pod's supervisor and fd holder with
# 10 containers probed every second, and idle (root; a root-gated test of
# integration/pod_supervisor_bench_test.go; PODRUN_BENCH_WINDOW=30s).
bench-supervisor: build
	PODRUN_BENCH_SUPERVISOR=1 PODRUN_BINARY=$(abspath $(PODRUN)) $(GO) test -count=1 -p 1 -v -run TestPodSupervisorBenchmark ./integration/

# Image import/unpack benchmark: podrun image import against umoci unpack
# of the same OCI layout (scripts/bench-image.sh; root; installs umoci).
bench-image: build
	scripts/bench-image.sh $(PODRUN)

# podrun, runc and crun side by side: run, create/start/delete, exec, peak
# RSS, CPU, 50 sequential and 20 concurrent starts, delete -f (root;
# scripts/bench.sh installs runc, crun, hyperfine; BENCHMARKS.md). Extra
# rtbench flags: make bench BENCH_FLAGS='-rounds 50'. BENCH_BASE=REV runs
# podrun as of git revision REV beside the current build (a fourth column,
# "before").
bench:
	BENCH_BASE=$(BENCH_BASE) scripts/bench.sh $(BENCH_FLAGS)

# make bench in the throw-away cgroup v2 VM (../shared/vm/run-in-vm; QEMU
# TCG here, so only the ratios mean something). Binaries are built on the
# host; the guest sees the host's runc, crun and hyperfine.
RUN_IN_VM ?= ../shared/vm/run-in-vm
bench-vm:
	scripts/install-deps.sh bench
	$(MAKE) -s build
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BINDIR)/rtbench ./bench/rtbench
	if [ -n "$(BENCH_BASE)" ]; then scripts/build-rev.sh $(BENCH_BASE) $(BINDIR)/podrun-$(BENCH_BASE); fi
	bash $(RUN_IN_VM) --cgroup v2 --timeout 5400 -- env BENCH_PREBUILT=1 BENCH_BASE=$(BENCH_BASE) \
		BENCH_OUT=bench/results/latest-vm.md scripts/bench.sh -rounds 10 -bulk-rounds 1 $(BENCH_FLAGS)

# A pod's start (pod run -d until its 2 containers run) and pod rm -f,
# against podman + runc with the same busybox image (scripts/bench-pod.sh;
# root; installs podman and catatonit; BENCHMARKS.md "Pods"). Extra
# podbench flags: make bench-pod BENCH_POD_FLAGS='-rounds 50'.
bench-pod:
	scripts/bench-pod.sh $(BENCH_POD_FLAGS)
