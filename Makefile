# nflog-agent — build, test, lint.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
FUZZTIME ?= 10m

.PHONY: all build test lint fuzz bench clean deb demo

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/nflog-agent ./cmd/agent

# The whole suite. As root (CI) the real-kernel lab tests run too; as an
# ordinary user they report that they were skipped.
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
	$(GO) tool staticcheck ./...

# Long fuzzing runs; the seed corpus also runs in every `make test`.
fuzz:
	$(GO) test ./decode -run '^$$' -fuzz '^FuzzEncode$$' -fuzztime $(FUZZTIME)
	$(GO) test ./collector/nflogpcap -run '^$$' -fuzz '^FuzzParseMessage$$' -fuzztime $(FUZZTIME)
	$(GO) test ./ship/spool -run '^$$' -fuzz '^FuzzSpoolRead$$' -fuzzminimizetime 5s -fuzztime $(FUZZTIME)
	$(GO) test ./ship/spool -run '^$$' -fuzz '^FuzzCursor$$' -fuzztime $(FUZZTIME)

# Go benchmarks of the hot paths (decode/encode, spool, ship: every package
# with Benchmark functions), then — as root — the side-by-side run with
# ulogd2 on a kernel flood (bench/run.sh, about 10 minutes; BENCH_QUICK=1 for
# a 1-minute smoke run), which writes docs/bench/.
bench:
	@export BENCH_LOAD_START="$$(cut -d' ' -f1-3 /proc/loadavg)"; \
	  echo "bench: load average at start: $$BENCH_LOAD_START"; \
	  $(GO) test -run '^$$' -bench . -benchmem ./... && GO='$(GO)' bench/run.sh

# The Debian package, built by nfpm (a tool dependency in go.mod):
# dist/nflog-agent_<version>_<arch>.deb. Debian versions must start with a
# digit and a '-' would split off a Debian revision, so an untagged tree
# becomes 0.0.0~git<commit>[+dirty] and v1.2.3-4-gabc becomes 1.2.3+4+gabc.
DEB_VERSION ?= $(shell v='$(VERSION)'; v=$${v#v}; case "$$v" in ([0-9]*) ;; (*) v="0.0.0~git$$v" ;; esac; echo "$$v" | sed 's/-/+/g')
DEB_ARCH    ?= $(shell $(GO) env GOARCH)

deb: build
	mkdir -p dist
	NFLOG_AGENT_BIN=bin/nflog-agent DEB_VERSION='$(DEB_VERSION)' DEB_ARCH='$(DEB_ARCH)' \
	  $(GO) tool nfpm package --config deploy/nfpm.yaml --packager deb --target dist/

# As root: the agent at work in throw-away network namespaces (never the
# host's ruleset or interfaces), see deploy/demo.sh.
demo: build
	bash deploy/demo.sh bin/nflog-agent

clean:
	rm -rf bin dist
