#!/usr/bin/env bash
# The side-by-side benchmark of `make bench`: nflog-agent and ulogd2 on the same
# kernel flood, in network namespaces this script creates. Needs root.
#
#   make bench                      # Go benchmarks, then this (about 10 minutes)
#   BENCH_QUICK=1 make bench        # smoke run: 3 steps, 3 s each (about 1 minute)
#   sudo bench/run.sh               # this part only
#
# Environment (all optional):
#   BENCH_QUICK=1         smoke run, results to /tmp/nflog-agent-bench-quick unless BENCH_OUT is set
#   BENCH_STEPS=25k,50k   offered rates (default 25k,50k,75k,100k,150k,200k,300k,400k)
#   BENCH_DURATION=8s     flood duration per step
#   BENCH_REPEAT=2        repetitions of the whole sweep (results show median and min–max)
#   BENCH_SETUPS=ulogd2,agent,agent-file,both,agent-https   (agent-file: a file sink; agent-https: the agent shipping to an HTTPS receiver on loopback)
#   BENCH_SPOOL_DIR=/var/tmp   where agent-https's spool goes: a disk filesystem (the report names it), not a tmpfs
#   BENCH_OUT=docs/bench  where results.csv, README.md, chart.png go
#   BENCH_AGENT_RT=1      run the agent at ulogd2's real-time priority too (shields it from unrelated load)
#   BENCH_AGENT_OVERFLOW=block   the agent's queue overflow policy (default: the agent's own, drop)
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
	out=${BENCH_OUT:-/tmp/nflog-agent-bench-quick}
	maxdrain=8s
	note="Smoke run (BENCH_QUICK=1): short floods, few steps; not for comparison."
else
	steps=${BENCH_STEPS:-25k,50k,75k,100k,150k,200k,300k,400k}
	duration=${BENCH_DURATION:-8s}
	repeat=${BENCH_REPEAT:-2}
	out=${BENCH_OUT:-docs/bench}
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
	echo "bench: installing ${need[*]}"
	# Installing ulogd2 must not start its daemon: it would become the
	# host's NFLOG logger. A temporary policy-rc.d stops that, unless one
	# already exists.
	own_policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		own_policy=1
	fi
	rc=0
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"; } || rc=$?
	[ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d
	[ $rc = 0 ] || { echo "bench: apt-get install ${need[*]} failed" >&2; exit 1; }
	if [[ " ${need[*]} " == *" ulogd2 "* ]] && command -v systemctl >/dev/null; then
		systemctl disable ulogd2.service >/dev/null 2>&1 || true
		echo "bench: installed ulogd2 for the benchmark; its service is left disabled"
	fi
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
CGO_ENABLED=0 "$GO" build -trimpath -o bin/loadgen ./cmd/loadgen
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
	-load-start "${BENCH_LOAD_START:-}" -agent-rt="$agent_rt" -agent-overflow "${BENCH_AGENT_OVERFLOW:-}" -agent-yaml "${BENCH_AGENT_YAML:-}" -logs "${BENCH_LOGS:-}" -agent "$agent" -loadgen bin/loadgen
