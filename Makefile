# Ferry's build, test, demo and benchmark entry points.
SHELL := /bin/bash
GO ?= go
GOBIN ?= $(shell $(GO) env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)
PROTOC_GEN_GO_VERSION ?= v1.36.12
PROTOC_GEN_GO_GRPC_VERSION ?= v1.6.2

.PHONY: all build test test-tools test-unit demo bench bench-cluster bench-mover bench-failover bench-iscsi bench-ndmp bench-scale proto tools fuzz clean

all: build

# What "ferry version" reports; Go's own VCS stamp (when -buildvcs is on)
# fills in a commit the Makefile could not find.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
build:
	$(GO) build -ldflags "-X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.buildDate=$(BUILD_DATE)" -o bin/ferry ./cmd/ferry

# Everything: vet, unit and in-process cluster tests, fuzz seed corpora, and
# the multi-process tests in test/ that run the real binary on 127.0.0.1.
# All under the race detector; the whole run stays well under 20 minutes on
# two cores.
TEST_FLAGS ?=
test: test-tools
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 18m $(TEST_FLAGS) ./...

# Tools the tests drive: libiscsi's iscsi-test-cu checks the iSCSI target;
# Amanda's ndmjob (Debian amanda-server, in Amanda's libexec directory) and
# Amanda itself (amanda-client for amfetchdump and local dumps, and
# libencode-locale-perl, which Amanda's perl tools need and Debian's
# packages forget) check the NDMP server; a C compiler builds the shims for
# ndmjob's own bugs (internal/ndmjob/shims). Installed from Debian when
# missing and run as root; otherwise those tests say they are skipped and why.
NDMJOB ?= /usr/lib/amanda/ndmjob
AMANDA_PKGS = amanda-server amanda-client libencode-locale-perl
test-tools:
	@command -v iscsi-test-cu >/dev/null || { [ "$$(id -u)" = 0 ] && \
	  { apt-get install -y -qq libiscsi-bin >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq libiscsi-bin >/dev/null; }; }; } || \
	  echo "libiscsi-bin is not installed and this is not root: the iSCSI conformance test will be skipped" >&2
	@{ [ -x $(NDMJOB) ] && [ -x /usr/sbin/amfetchdump ] && perl -MEncode::Locale -e1 2>/dev/null; } || { [ "$$(id -u)" = 0 ] && \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(AMANDA_PKGS) >/dev/null 2>&1 || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(AMANDA_PKGS) >/dev/null; }; }; } || \
	  echo "Amanda ($(AMANDA_PKGS)) is not installed and this is not root: the NDMP conformance tests will be skipped" >&2
	@command -v cc >/dev/null || { [ "$$(id -u)" = 0 ] && \
	  { apt-get install -y -qq gcc >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq gcc >/dev/null; }; }; } || \
	  echo "no C compiler: ndmjob's test-tape runs without the shims for its own bugs, stopping at T-BW #6" >&2

# The fast part: what needs no second process.
test-unit:
	$(GO) test -race -count=1 -short ./cluster/... ./rpc/... ./cmd/... ./internal/...

# Fuzz each parser of untrusted bytes for a while (FUZZTIME each): every
# Fuzz function of the tree; their seed corpora run in every `make test`.
FUZZTIME ?= 30s
FUZZ_TARGETS := ./cluster/fsm:FuzzApply ./internal/tarbackup:FuzzRecover ./iscsi/pdu:FuzzDecode \
	./iscsi/pdu:FuzzParseText ./mover:FuzzCheckpoint ./mover:FuzzRunList ./ndmp:FuzzDecode \
	./rpc/ndmpserver:FuzzDispatch ./scheduler:FuzzPlace ./scsi/pr:FuzzApply ./scsi/pr:FuzzRead ./scsi/sbc:FuzzCDB \
	./scsi/sbc:FuzzUnmapList ./scsi/sense:FuzzParseSense ./scsi/smc:FuzzCDB ./scsi/xcopy:FuzzDecode \
	./scsi/xcopy:FuzzDecodeResults ./security/acl:FuzzParseToken ./security/pki:FuzzIdentify \
	./storage/fence:FuzzDecode ./storage/fence:FuzzDecodeFile ./storage/library:FuzzExpandBarcodes \
	./storage/tape:FuzzAgainstModel ./storage/tape:FuzzDecodeIndex ./storage/tape:FuzzOpen
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  echo "fuzz $${t#*:} in $${t%%:*}"; \
	  $(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) "$${t%%:*}/"; \
	done

clean:
	rm -rf bin

# Three movers, a 512 MiB disk→tape copy whose node is killed half way and
# taken over from its last checkpoint, verified: well under a minute,
# everything cleaned up.
demo: build
	./bin/ferry demo

# Benchmarks, not part of `test`: Ferry submissions vs etcd puts on 3-node
# loopback clusters (installs Debian's etcd-server when missing and run as
# root), the mover vs dd on 2 GiB copies, then failover (20 kills and a
# short quiet run), then the iSCSI target vs tgtd and EXTENDED COPY.
BENCH_FLAGS ?=
bench: build bench-cluster bench-mover bench-failover bench-iscsi bench-ndmp bench-scale

bench-cluster: build
	$(GO) run ./test/bench -ferry bin/ferry $(BENCH_FLAGS)

proto: tools
	protoc -I proto --go_out=proto --go_opt=module=github.com/ferry-san/ferry/proto \
	  --go-grpc_out=proto --go-grpc_opt=module=github.com/ferry-san/ferry/proto \
	  proto/ferry/v1/*.proto

tools:
	@command -v protoc >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq protobuf-compiler >/dev/null || \
	  (apt-get update -qq && apt-get install -y -qq protobuf-compiler); } || { echo "protoc missing: apt-get install protobuf-compiler" >&2; exit 1; }
	@command -v protoc-gen-go >/dev/null || $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	@command -v protoc-gen-go-grpc >/dev/null || $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

# The mover against dd bs=1M conv=fsync: 2 GiB disk→disk, disk→tape and
# tape→disk with checkpoints on and off, page cache dropped before each run
# (as root). BENCH_MOVER_FLAGS="-size 512MiB -reps 3" to shrink or repeat.
BENCH_MOVER_FLAGS ?= -size 2GiB -reps 5
bench-mover:
	$(GO) run ./test/benchmover $(BENCH_MOVER_FLAGS)

# Failover: KILLS owners of bandwidth-limited disk→tape copies killed with
# SIGKILL at random points (takeover p50/p99, bytes copied again, every copy
# verified), then QUIET minutes of copies without faults (takeovers must be
# 0), each on a fresh 3-node cluster with default settings. The issue's
# 10-minute quiet run: make bench-failover QUIET=10 (KILLS=0 to skip kills).
KILLS ?= 20
QUIET ?= 1
BENCH_FAILOVER_FLAGS ?=
bench-failover: build
	$(GO) run ./test/benchfailover -ferry bin/ferry -kills $(KILLS) -quiet-minutes $(QUIET) $(BENCH_FAILOVER_FLAGS)

# iSCSI: Ferry's target (two nodes) against Debian's tgtd serving the same
# files (iscsi-perf sequential reads, initiator sequential writes; medians
# of alternating runs, ratio Ferry/tgtd), sequential reads through two
# nodes' portals at once against one, COMPARE AND WRITE from 4 initiators
# through two nodes, a 1 GiB EXTENDED COPY against READ(16)/WRITE(16) of the
# same bytes, and the wall time of libiscsi's whole suite on each target
# (BENCH_ISCSI_FLAGS=-conformance=false leaves it out). tgt is installed when
# tgtd is missing and we are root; without it only Ferry's figures are printed.
BENCH_ISCSI_FLAGS ?=
bench-iscsi: build
	@command -v iscsi-perf >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y libiscsi-bin; }
	@command -v tgtd >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y tgt; } || echo "tgtd missing: Ferry-only figures"
	$(GO) run ./test/benchiscsi -ferry bin/ferry $(BENCH_ISCSI_FLAGS)

# NDMP: a backup of the same 1 GiB tree through Amanda's ndmjob, local (DATA
# and MOVER on one node) and 3-way (DATA on one node, TAPE and MOVER on
# another), against `tar -cf - DIR | dd of=FILE bs=1M conv=fsync`, page
# cache dropped before each run (as root), medians of 3; prints the ratios
# (goals: 0.9x local, 0.8x 3-way). amanda-server is installed as for the
# tests. BENCH_NDMP_FLAGS="-size 256MiB -reps 1" to shrink.
BENCH_NDMP_FLAGS ?=
bench-ndmp: build test-tools
	$(GO) run ./test/benchndmp -ferry bin/ferry $(BENCH_NDMP_FLAGS)

# Scaling: the same batch of copies on 1–4 mover nodes with throttled drives,
# one copy split into 1, 2 and 4 streams, scheduler placements per second with
# 10,000 queued jobs, and the leader's idle cost with 100,000 queued jobs.
# BENCH_SCALE_FLAGS="-only placement,idle" runs some sections.
BENCH_SCALE_FLAGS ?=
bench-scale: build
	$(GO) run ./test/benchscale -ferry bin/ferry $(BENCH_SCALE_FLAGS)
