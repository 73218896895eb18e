package nftlog

import "testing"

// Abridged from `nft -j list ruleset` (nft 1.0.6) with nft/nflog-agent.nft
// and an iptables-nft `-j NFLOG --nflog-group 7` rule loaded, plus a plain
// kernel log rule.
const ruleset = `{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
{"table": {"family": "inet", "name": "nflog_agent", "handle": 2}},
{"chain": {"family": "inet", "table": "nflog_agent", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 10, "policy": "accept"}},
{"rule": {"family": "inet", "table": "nflog_agent", "chain": "input", "handle": 3, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": "invalid"}}, {"limit": {"rate": 20, "burst": 50, "per": "second"}}, {"log": {"prefix": "IPTABLES: DROP ", "group": 100}}]}},
{"rule": {"family": "inet", "table": "nflog_agent", "chain": "input", "handle": 4, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": "invalid"}}, {"drop": null}]}},
{"rule": {"family": "inet", "table": "nflog_agent", "chain": "forward", "handle": 6, "expr": [{"log": {"prefix": "IPTABLES: ACCEPT ", "group": 100}}]}},
{"rule": {"family": "ip", "table": "filter", "chain": "INPUT", "handle": 2, "expr": [{"counter": {"packets": 0, "bytes": 0}}, {"log": {"prefix": "X ", "group": 7}}]}},
{"rule": {"family": "ip", "table": "filter", "chain": "INPUT", "handle": 9, "expr": [{"log": {"prefix": "KERNEL "}}]}}
]}`

func TestGroups(t *testing.T) {
	got, err := Groups([]byte(ruleset))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got[100]) != 2 || len(got[7]) != 1 {
		t.Fatalf("got %+v", got)
	}
	if r := got[100][0]; r != (Rule{"inet", "nflog_agent", "input", 3, "IPTABLES: DROP "}) || r.String() != "inet nflog_agent input" {
		t.Errorf("first rule of group 100: %+v", r)
	}
	if r := got[100][1]; r.Chain != "forward" || r.Handle != 6 {
		t.Errorf("second rule of group 100: %+v", r)
	}
	if r := got[7][0]; r.Family != "ip" || r.Prefix != "X " {
		t.Errorf("iptables rule: %+v", r)
	}
}

func TestGroupsEmptyAndBad(t *testing.T) {
	if got, err := Groups([]byte(`{"nftables": [{"metainfo": {"version": "1.0.6"}}]}`)); err != nil || len(got) != 0 {
		t.Errorf("empty ruleset: %v %v", got, err)
	}
	if _, err := Groups([]byte("table inet x {")); err == nil {
		t.Error("text accepted as JSON")
	}
}
