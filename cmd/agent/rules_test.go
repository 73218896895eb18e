package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/collector"
	"github.com/nflog-agent/nflog-agent/decode"
	"github.com/nflog-agent/nflog-agent/internal/netlab"
)

// The shipped nft/nflog-agent.nft is what `rules` prints for the default
// config, so the file and the command never drift apart.
func TestRulesDefaultIsShippedFile(t *testing.T) {
	want, err := os.ReadFile("../../nft/nflog-agent.nft")
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if status := run([]string{"rules"}, &out, &errOut); status != 0 {
		t.Fatalf("exit %d: %s", status, errOut.String())
	}
	if out.String() != string(want) {
		t.Errorf("`nflog-agent rules` differs from nft/nflog-agent.nft; regenerate it with\n"+
			"  go run ./cmd/agent rules > nft/nflog-agent.nft\ngot:\n%s", out.String())
	}
}

func TestRulesGroups(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	cases := []struct {
		config     string
		want, not  []string
		wantStatus int
	}{
		{"groups:\n  - group: 7\n", []string{`prefix "IPTABLES: ACCEPT " group 7`, `prefix "IPTABLES: DROP " group 7`, "NFLOG group 7."}, []string{"group 100"}, 0},
		{"groups:\n  - group: 7\n  - group: 8\n", []string{`prefix "IPTABLES: ACCEPT " group 7`, `prefix "IPTABLES: DROP " group 8`, "group 7 (accepted) and group 8 (dropped)"}, []string{`DROP " group 7`, `ACCEPT " group 8`}, 0},
		{"netns: /run/netns/fw\ngroups:\n  - group: 7\n  - group: 8\n  - group: 9\n  - group: 10\n", []string{"also reads groups 9, 10", `log prefix "IPTABLES: DROP " group 9`, "nsenter --net=/run/netns/fw nft -f FILE"}, nil, 0},
		{"groups:\n  - group: 7\n    overflow: maybe\n", nil, nil, 1},
	}
	for i, c := range cases {
		path := write(fmt.Sprintf("c%d.yaml", i), c.config)
		var out, errOut bytes.Buffer
		status := run([]string{"rules", "--config", path}, &out, &errOut)
		if status != c.wantStatus {
			t.Errorf("case %d: exit %d, want %d; stderr %s", i, status, c.wantStatus, errOut.String())
		}
		for _, w := range c.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("case %d: output lacks %q:\n%s", i, w, out.String())
			}
		}
		for _, w := range c.not {
			if strings.Contains(out.String(), w) {
				t.Errorf("case %d: output has %q:\n%s", i, w, out.String())
			}
		}
		if c.wantStatus == 1 && !strings.Contains(errOut.String(), path+":3: groups[0].overflow") {
			t.Errorf("case %d: stderr %q", i, errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	if status := run([]string{"rules", "extra"}, &out, &errOut); status != 2 {
		t.Errorf("extra argument: exit %d", status)
	}
}

// The ruleset printed for two groups loads with nft and sends accepted
// connections to the first group and invalid packets to the second.
func TestRulesLoadAndLog(t *testing.T) {
	lab := netlab.New(t) // skips unless root with nft
	ns := lab.B
	cfg := filepath.Join(t.TempDir(), "agent.yaml")
	os.WriteFile(cfg, []byte("groups:\n  - group: 7\n  - group: 8\n"), 0o600)
	var rules, errOut bytes.Buffer
	if status := run([]string{"rules", "--config", cfg}, &rules, &errOut); status != 0 {
		t.Fatalf("rules: exit %d: %s", status, errOut.String())
	}
	load := exec.Command("ip", "netns", "exec", ns.Name, "nft", "-f", "-")
	load.Stdin = &rules
	if out, err := load.CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v\n%s", err, out)
	}

	got := make(chan decode.Record, 16)
	for _, group := range []uint16{7, 8} {
		g, err := collector.OpenGroup(collector.GroupConfig{Group: group}, collector.GroupOptions{NetNS: ns.Fd()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		go func() {
			for batch := range g.Records() {
				for _, r := range batch.Records() {
					got <- r
				}
			}
		}()
	}
	lab.Connect(t, 9051)
	lab.A.MustDo(t, func() error { return netlab.SendSynFin(netlab.IPv4A.String(), netlab.IPv4B.String(), 9052) })
	want := map[string]bool{"7 IPTABLES: ACCEPT ": true, "8 IPTABLES: DROP ": true}
	timeout := time.After(10 * time.Second)
	for len(want) > 0 {
		select {
		case r := <-got:
			delete(want, fmt.Sprintf("%d %s", r.Group, r.Prefix))
		case <-timeout:
			t.Fatalf("no record for %v", want)
		}
	}
}
