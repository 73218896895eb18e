package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nflog-agent/nflog-agent/internal/netlab"
)

// A group with conntrack: the agent says at start where the entries come
// from (ctnetlink on a kernel that cannot attach them), every event of a
// tracked connection carries its entry, and /metrics counts them.
func TestRunConntrackLab(t *testing.T) {
	lab := netlab.NewFirewall(t, projectRules)
	cfgPath := filepath.Join(t.TempDir(), "agent.yaml")
	os.WriteFile(cfgPath, []byte("netns: "+lab.B.Path()+"\nconntrack_max_entries: 4096\nmetrics:\n  listen: 127.0.0.1:0\n"+
		"groups:\n  - group: 100\n    conntrack: true\n"), 0o600)
	a := startAgent(t, cfgPath)
	log := a.stderr.String()
	if !strings.Contains(log, "conntrack=nflog") && !strings.Contains(log, "conntrack=ctnetlink") {
		t.Fatalf("the start-up log does not say where conntrack entries come from:\n%s", log)
	}
	m := metricsAddr.FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("no metrics address in the log:\n%s", log)
	}
	const n = 5
	for i := range n {
		lab.Connect(t, 9300+i)
	}
	a.waitUntil(t, "the events", func() bool { return strings.Count(a.stdout.String(), "\n") >= n })
	for line := range strings.Lines(a.stdout.String()) {
		var ev struct {
			Netfilter struct {
				Ct struct {
					ID        *uint32
					State     string
					Direction string
					Original  struct{ Destination struct{ Port int } }
				}
			}
			Destination struct{ Port int }
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		ct := ev.Netfilter.Ct
		if ct.ID == nil || ct.State != "new" || ct.Direction != "original" || ct.Original.Destination.Port != ev.Destination.Port {
			t.Errorf("event without its entry: %s", line)
		}
	}
	_, body := get(t, "http://"+m[1]+"/metrics")
	for _, want := range []string{
		fmt.Sprintf(`nflog_agent_conntrack_enriched_events_total{group="100"} %d`, n),
		`nflog_agent_conntrack_missing_events_total{group="100",reason="no_entry"} 0`,
		`nflog_agent_conntrack_missing_events_total{group="100",reason="hold_full"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(log, "conntrack=ctnetlink") && !strings.Contains(body, `nflog_agent_conntrack_table_entries{source="ctnetlink"}`) {
		t.Error("/metrics lacks the mirror's table size")
	}
	a.stop(t)
}
