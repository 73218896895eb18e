# nflog-agent — build, test, lint.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
FUZZTIME ?= 10m
BIN_DIR  ?= bin
DIST_DIR ?= dist
# Build tools (nfpm, staticcheck) have their own module file, so the
# product's go.mod lists only what the binary and its tests link.
GOTOOL   := $(GO) tool -modfile=tools/go.mod

.PHONY: all build test lint fuzz bench clean deb demo

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN_DIR)/nflog-agent ./cmd/agent

# The whole suite. As root the real-kernel lab tests run too; as an
# ordinary user they report that they were skipped, and with CI=true (as
# .ci/run sets it) a test that would skip fails instead.
test: lint
	$(GO) test -count=1 -timeout 20m ./...

# Comments and docs stand on their own: none may send the reader to a
# document that is not in the repository.
lint:
	@if git grep -n -E 'DESIGN §|DESIGN\.md|shared/reference|issue item|[Ii]tem [0-9]+[a-z]?\b' -- '*.go' '*.md'; then \
	  echo "lint: the lines above point at documents outside the repository: say the reason itself"; exit 1; fi
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GOTOOL) staticcheck ./...

# Long fuzzing runs; the seed corpus also runs in every `make test`.
fuzz:
	$(GO) test ./decode -run '^$$' -fuzz '^FuzzEncode$$' -fuzztime $(FUZZTIME)
	$(GO) test ./decode -run '^$$' -fuzz '^FuzzParseConntrack$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/jsonstring -run '^$$' -fuzz '^FuzzAppend$$' -fuzztime $(FUZZTIME)
	$(GO) test ./collector/nflogmsg -run '^$$' -fuzz '^FuzzParseMessage$$' -fuzztime $(FUZZTIME)
	$(GO) test ./collector/nflogpcap -run '^$$' -fuzz '^FuzzReader$$' -fuzztime $(FUZZTIME)
	$(GO) test ./cmd/agent -run '^$$' -fuzz '^FuzzReplay$$' -fuzztime $(FUZZTIME)
	$(GO) test ./ship/spool -run '^$$' -fuzz '^FuzzSpoolRead$$' -fuzzminimizetime 5s -fuzztime $(FUZZTIME)
	$(GO) test ./ship/spool -run '^$$' -fuzz '^FuzzCursor$$' -fuzztime $(FUZZTIME)

# Go benchmarks of the hot paths (decode/encode, spool, ship: every package
# with Benchmark functions), then — as root — the side-by-side run with
# ulogd2 on a kernel flood (bench/run.sh, about 10 minutes; BENCH_QUICK=1 for
# a 1-minute smoke run). It first checks for what it needs and stops, naming
# the missing Debian packages, unless BENCH_INSTALL=1 lets it install them.
# Results go to a new folder under /tmp; BENCH_OUT=docs/bench updates the
# committed ones.
bench:
	@GO='$(GO)' bench/run.sh --check
	@export BENCH_LOAD_START="$$(cut -d' ' -f1-3 /proc/loadavg)"; \
	  echo "bench: load average at start: $$BENCH_LOAD_START"; \
	  $(GO) test -run '^$$' -bench . -benchmem ./... && GO='$(GO)' bench/run.sh

# The Debian package, built by nfpm (a tool dependency in tools/go.mod):
# dist/nflog-agent_<version>_<arch>.deb. deploy/deb-version turns git's
# view of the tree into a Debian version: untagged builds are
# 0.0.0~git<commit date>.<commit>, below any release and rising with time.
DEB_VERSION ?= $(shell deploy/deb-version)
DEB_ARCH    ?= $(shell $(GO) env GOARCH)
DEB_MAINTAINER ?= nflog-agent maintainers <maintainers@nflog-agent.example>

# The man page and the changelog go in gzipped without timestamps (-n), as
# Debian asks; the changelog of this native package has one entry, the build.
deb: build
	mkdir -p $(DIST_DIR)
	gzip -9n < deploy/nflog-agent.8 > $(BIN_DIR)/nflog-agent.8.gz
	printf 'nflog-agent (%s) unstable; urgency=medium\n\n  * Built from commit %s.\n\n -- %s  %s\n' \
	  '$(DEB_VERSION)' '$(COMMIT)' '$(DEB_MAINTAINER)' \
	  "$$(LC_ALL=C TZ=UTC date -R -d @$$(git log -1 --format=%ct 2>/dev/null || date +%s))" | gzip -9n > $(BIN_DIR)/changelog.gz
	NFLOG_AGENT_BIN=$(BIN_DIR)/nflog-agent DEB_DOCS=$(BIN_DIR) DEB_VERSION='$(DEB_VERSION)' DEB_ARCH='$(DEB_ARCH)' \
	  DEB_MAINTAINER='$(DEB_MAINTAINER)' $(GOTOOL) nfpm package --config deploy/nfpm.yaml --packager deb --target $(DIST_DIR)/

# As root: the agent at work in throw-away network namespaces (never the
# host's ruleset or interfaces), see deploy/demo.sh.
demo: build
	bash deploy/demo.sh bin/nflog-agent

clean:
	rm -rf bin dist
