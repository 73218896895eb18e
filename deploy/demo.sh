#!/usr/bin/env bash
# deploy/demo.sh BINARY — show nflog-agent at work without touching this
# host's network: two throw-away network namespaces joined by a veth pair,
# the shipped rules (nft/nflog-agent.nft) loaded in the "firewall" one, some
# traffic, the events the agent made of it, its metrics, then everything
# removed (even on failure or Ctrl-C). Needs root, ip and nft. `make demo`
# builds the agent and runs this.
set -euo pipefail

bin=${1:?usage: deploy/demo.sh path/to/nflog-agent}
here=$(cd "$(dirname "$0")/.." && pwd)

if [ "$(id -u)" != 0 ]; then
	echo "demo: needs root (network namespaces, nft, NFLOG): sudo make demo" >&2
	exit 1
fi
for tool in ip nft; do
	command -v "$tool" >/dev/null || { echo "demo: $tool not found: apt-get install iproute2 nftables" >&2; exit 1; }
done

# Names and addresses exist only inside the namespaces this script makes.
id=$$
client=nfldemo-client-$id
fw=nfldemo-fw-$id
client_ip=10.232.0.1
fw_ip=10.232.0.2
work=$(mktemp -d)
agent_pid=

cleanup() {
	if [ -n "$agent_pid" ]; then kill "$agent_pid" 2>/dev/null || true; wait "$agent_pid" 2>/dev/null || true; fi
	ip netns del "$client" 2>/dev/null || true
	ip netns del "$fw" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold= plain=; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }

step "lab: namespaces $client ($client_ip) and $fw ($fw_ip), shipped rules in $fw"
ip netns add "$client"
ip netns add "$fw"
# Created straight inside the namespaces: no interface appears on the host.
ip link add "nfdc$id" netns "$client" type veth peer name "nfdf$id" netns "$fw"
ip -n "$client" addr add "$client_ip/24" dev "nfdc$id"
ip -n "$fw" addr add "$fw_ip/24" dev "nfdf$id"
for ns in "$client" "$fw"; do ip -n "$ns" link set lo up; done
ip -n "$client" link set "nfdc$id" up
ip -n "$fw" link set "nfdf$id" up
ip netns exec "$fw" nft -f "$here/nft/nflog-agent.nft"
ip netns exec "$fw" nft list table inet nflog_agent | grep -E 'log prefix' | sed 's/^[[:space:]]*/  /'

cat >"$work/agent.yaml" <<EOF
netns: /run/netns/$fw
hostname: demo-fw
metrics:
  listen: 127.0.0.1:0
groups:
  - group: 100
EOF

step "nflog-agent doctor: can the agent run in $fw?"
"$bin" doctor --config "$work/agent.yaml" | sed 's/^/  /'

step "agent: reading NFLOG group 100 in $fw"
"$bin" run --config "$work/agent.yaml" >"$work/events.ndjson" 2>"$work/agent.log" &
agent_pid=$!
for _ in $(seq 100); do
	grep -qs 'reading NFLOG group' "$work/agent.log" && break
	kill -0 "$agent_pid" 2>/dev/null || { cat "$work/agent.log" >&2; exit 1; }
	sleep 0.1
done
metrics=$(sed -n 's/.*msg="serving metrics and health" addr=\([^ ]*\).*/\1/p' "$work/agent.log")
echo "  metrics on http://$metrics/metrics"

step "traffic from $client to $fw"
in_client() { ip netns exec "$client" "$@"; }
expected=0 # new connections, each logged once
for port in 22 80 443; do
	# Nothing listens: the SYN is refused, but it is a new connection the
	# rules log as IPTABLES: ACCEPT.
	in_client timeout 2 bash -c "exec 3<>/dev/tcp/$fw_ip/$port" 2>/dev/null || true
	echo "  TCP connect to $fw_ip:$port"
	expected=$((expected + 1))
done
in_client timeout 2 bash -c "echo demo >/dev/udp/$fw_ip/53" && echo "  UDP datagram to $fw_ip:53" && expected=$((expected + 1))
if command -v ping >/dev/null; then
	in_client ping -c 2 -i 0.2 -q "$fw_ip" >/dev/null && echo "  ping $fw_ip (2 echo requests: one new connection)" &&
		expected=$((expected + 1))
fi

for _ in $(seq 50); do
	[ "$(wc -l <"$work/events.ndjson")" -ge "$expected" ] && break
	sleep 0.1
done

step "metrics (http://$metrics/metrics, agent's own lines)"
http_get() { # host:port path — no curl needed
	exec 3<>"/dev/tcp/${1%:*}/${1##*:}"
	printf 'GET %s HTTP/1.0\r\n\r\n' "$2" >&3
	sed '1,/^\r$/d' <&3
	exec 3<&-
}
http_get "$metrics" /metrics | grep -E '^nflog_agent_(received|kernel_lost|enobufs|queue_dropped|decode_errors)' | sed 's/^/  /'
echo "  /healthz: $(http_get "$metrics" /healthz)"

step "stopping the agent (SIGTERM drains what was read)"
kill -TERM "$agent_pid"
wait "$agent_pid" || { echo "demo: agent exited with $?" >&2; cat "$work/agent.log" >&2; exit 1; }
agent_pid=
grep 'group totals' "$work/agent.log" | sed 's/^/  /'

step "events ($(wc -l <"$work/events.ndjson")), one line each"
# A jq-free view of the ECS JSON: the agent writes flat, predictable JSON,
# so pulling out a few string and number fields with awk is enough here.
awk '
function str(key,   m) { if (match($0, "\"" key "\":\"[^\"]*\"")) { m = substr($0, RSTART, RLENGTH); sub(/^"[^"]*":"/, "", m); sub(/"$/, "", m); return m } return "-" }
function obj(o, key,   m) { if (match($0, "\"" o "\":\\{[^}]*\"" key "\":(\"[^\"]*\"|[0-9]+)")) { m = substr($0, RSTART, RLENGTH); sub(/.*":/, "", m); gsub(/"/, "", m); return m } return "" }
function ep(o,   ip, port) { ip = obj(o, "ip"); port = obj(o, "port"); return port == "" ? ip : ip ":" port }
BEGIN { printf "  %-15s %-7s %-9s %-21s %-21s %s\n", "TIME (UTC)", "ACTION", "PROTOCOL", "SOURCE", "DESTINATION", "COMMUNITY ID" }
{
	ts = str("@timestamp"); sub(/^[0-9-]+T/, "", ts); sub(/Z$/, "", ts)
	printf "  %-15s %-7s %-9s %-21s %-21s %s\n", substr(ts, 1, 15), obj("action", "name"), obj("network", "transport"), ep("source"), ep("destination"), str("community_id")
}' "$work/events.ndjson"

step "the first event in full"
head -n 1 "$work/events.ndjson" | sed 's/^/  /'
echo
echo "demo: done; namespaces and files are removed on exit."
