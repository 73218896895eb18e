#!/usr/bin/env bash
# The side-by-side benchmark of `make bench`: nflog-agent and ulogd2 on the same
# kernel flood, in network namespaces this script creates. Needs root.
#
#   make bench                      # Go benchmarks, then this (about 10 minutes)
#   BENCH_QUICK=1 make bench        # smoke run: 3 steps, 3 s each (about 1 minute)
#   sudo bench/run.sh               # this part only
#   bench/run.sh --check            # check root and the tools (install them if BENCH_INSTALL=1), then stop
#
# It needs ulogd2 (the reference), ulogd2-json, gnuplot-nox (the chart),
# nftables, iproute2 and util-linux. When one is missing it says which and
# stops, unless BENCH_INSTALL=1: then it installs them with .ci/apt-install,
# which never starts or enables a service (a running ulogd2 would become the
# host's NFLOG logger) and, even when interrupted, leaves no package
# half-configured. The packages stay installed afterwards.
#
# Results go to a new folder under /tmp (printed at the end), never over the
# committed docs/bench/ unless asked: BENCH_OUT=docs/bench.
#
# Environment (all optional):
#   BENCH_INSTALL=1       install the missing Debian packages (see above)
#   BENCH_QUICK=1         smoke run: 3 steps of 3 s, one repetition
#   BENCH_STEPS=25k,50k   offered rates (default 25k,50k,75k,100k,150k,200k,250k,400k)
#   BENCH_DURATION=8s     flood duration per step
#   BENCH_REPEAT=2        repetitions of the whole sweep (results show median and min–max)
#   BENCH_SETUPS=ulogd2,agent,agent-file,both,agent-https   (agent-file: a file sink; agent-https: the agent shipping to an HTTPS receiver on loopback)
#   BENCH_SPOOL_DIR=/var/tmp   where agent-https's spool goes: a disk filesystem (the report names it), not a tmpfs
#   BENCH_OUT=docs/bench  where results.csv, README.md, chart.png go (default: a new /tmp folder)
#   BENCH_AGENT_RT=1      run the agent at ulogd2's real-time priority too (shields it from unrelated load)
#   BENCH_AGENT_OVERFLOW=drop    the agent's queue overflow policy (default: the agent's own, block)
#   BENCH_HTTPS_CONCURRENCY=2     agent-https's sink concurrency, batches in flight (default: the sink's own, 1)
#   BENCH_AGENT_YAML='spool: {memory_events: 10000}'   top-level YAML added to the agent's config
#   BENCH_LOGS=DIR        keep every reader's log there (e.g. with GODEBUG=gctrace=1 for the agent's GC trace)
#   BENCH_AGENT=PATH      an nflog-agent binary to measure instead of building ./cmd/agent
#
# Everything it creates — two namespaces and their veth pair, a tmpfs for the
# readers' output, the reader and generator processes — is removed on exit,
# including on failure or Ctrl-C. It changes no sysctl. Traffic stays inside
# its own namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
if [ "$(id -u)" != 0 ]; then
	echo "bench/run.sh: the side-by-side benchmark needs root (network namespaces, nft, NFLOG); run: sudo make bench" >&2
	exit 1
fi

if [ -n "${BENCH_QUICK:-}" ]; then
	steps=${BENCH_STEPS:-25k,100k,400k}
	duration=${BENCH_DURATION:-3s}
	repeat=${BENCH_REPEAT:-1}
	maxdrain=8s
	note="Smoke run (BENCH_QUICK=1): short floods, few steps; not for comparison."
else
	steps=${BENCH_STEPS:-25k,50k,75k,100k,150k,200k,250k,400k}
	duration=${BENCH_DURATION:-8s}
	repeat=${BENCH_REPEAT:-2}
	maxdrain=20s
	note=""
fi
setups=${BENCH_SETUPS:-ulogd2,agent,agent-file,both,agent-https}
agent_rt=false
case "${BENCH_AGENT_RT:-0}" in 0 | "" | false) ;; *) agent_rt=true ;; esac

# Tools. ulogd2 from Debian is the reference; the chart needs gnuplot.
need=()
command -v nft >/dev/null || need+=(nftables)
command -v ip >/dev/null || need+=(iproute2)
command -v taskset >/dev/null && command -v chrt >/dev/null || need+=(util-linux)
[ -x /usr/sbin/ulogd ] || need+=(ulogd2)
[ -e /usr/lib/x86_64-linux-gnu/ulogd/ulogd_output_JSON.so ] || need+=(ulogd2-json)
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
if [ ${#need[@]} -gt 0 ]; then
	echo "bench: missing Debian packages: ${need[*]}"
	echo "bench:   ulogd2 and ulogd2-json are the reader the agent is compared with, gnuplot-nox draws the"
	echo "bench:   chart, nftables, iproute2 and util-linux build the lab and pin the readers to CPUs."
	if [ "${BENCH_INSTALL:-}" != 1 ]; then
		{
			echo "bench: install them and run again, either with apt-get:"
			line="  sudo apt-get install --no-install-recommends ${need[*]}"
			if [[ " ${need[*]} " == *" ulogd2 "* ]]; then
				line+=" && sudo systemctl disable --now ulogd2" # its package starts and enables it
			fi
			echo "$line"
			echo "bench: or with the script that starts and enables no service: sudo .ci/apt-install ${need[*]}"
			echo "bench: or let the benchmark do the latter: sudo BENCH_INSTALL=1 make bench"
		} >&2
		exit 1
	fi
	.ci/apt-install "${need[@]}"
fi
if [ "${1:-}" = --check ]; then
	exit 0
fi

if [ -z "${BENCH_OUT:-}" ]; then
	out=$(mktemp -d /tmp/nflog-agent-bench-results.XXXXXX)
else
	out=$BENCH_OUT
fi

mkdir -p bin
agent=${BENCH_AGENT:-bin/nflog-agent}
if [ -z "${BENCH_AGENT:-}" ]; then
	echo "bench: building bin/nflog-agent"
	version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
	commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
	CGO_ENABLED=0 "$GO" build -trimpath -ldflags "-X main.version=$version -X main.commit=$commit" -o bin/nflog-agent ./cmd/agent
fi
echo "bench: building bin/loadgen, bin/nflogbench"
CGO_ENABLED=0 "$GO" build -trimpath -o bin/loadgen ./bench/loadgen
"$GO" build -o bin/nflogbench ./bench/nflogbench

prefix=nflb$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
work=$(mktemp -d /tmp/nflog-agent-bench.XXXXXX)
# The spool's fsyncs must cost what they cost on a disk: not on the tmpfs.
spool=$(mktemp -d "${BENCH_SPOOL_DIR:-/var/tmp}/nflog-agent-bench-spool.XXXXXX")
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	# Processes this run started and that are somehow still alive (the
	# harness kills them itself; they also die with it): only those whose
	# command line names this run's scratch directory.
	if [ -f "$work/pids" ]; then
		while read -r pid; do
			if grep -qF "$work" "/proc/$pid/cmdline" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
		done <"$work/pids"
	fi
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$prefix" || true); do
		ip netns del "$ns" 2>/dev/null || true
	done
	umount "$work" 2>/dev/null || true
	rm -rf "$work" "$spool"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Reader output (up to a few GB per run at high rates) goes to RAM, not disk.
mount -t tmpfs -o size=10g,mode=0700 nflog-agent-bench "$work"

load1=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load1" 'BEGIN { exit !(l >= 0.7) }'; then
	echo "bench: warning: load average $load1: something else is running; the numbers will be noisy (it is recorded with them)" >&2
fi
echo "bench: load average before: $(cut -d' ' -f1-3 /proc/loadavg); steps $steps, $duration each, $repeat repetition(s), setups $setups"
bin/nflogbench -work "$work" -spool-dir "$spool" -prefix "$prefix" -out "$out" -steps "$steps" -duration "$duration" \
	-repeat "$repeat" -setups "$setups" -max-drain "$maxdrain" -note "$note" \
	-load-start "${BENCH_LOAD_START:-}" -agent-rt="$agent_rt" -agent-overflow "${BENCH_AGENT_OVERFLOW:-}" -https-concurrency "${BENCH_HTTPS_CONCURRENCY:-0}" -agent-yaml "${BENCH_AGENT_YAML:-}" -logs "${BENCH_LOGS:-}" -agent "$agent" -loadgen bin/loadgen
if [ -z "${BENCH_OUT:-}" ]; then
	echo "bench: docs/bench/ is unchanged; BENCH_OUT=docs/bench writes the results there instead"
fi
