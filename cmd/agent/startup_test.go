package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/internal/netlab"
	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// The start-up line says what the agent reads and what it found waiting:
// the namespace, the groups, the spool mode and the events a previous run
// left in the spool (which it then delivers).
func TestRunStartupLine(t *testing.T) {
	ns := netlab.NewNSWithRules(t, "run", projectRules)
	dir := t.TempDir()
	left := filepath.Join(dir, "spool")
	q, err := spool.Open(left, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		json := fmt.Sprintf(`{"left":%d}`, i)
		if err := q.Append(spool.Event{ID: []byte{byte(i)}, Time: time.Now(), Message: []byte("m"), JSON: []byte(json)}); err != nil {
			t.Fatal(err)
		}
	}
	q.Close()

	for _, tc := range []struct {
		name, spool, want string
	}{
		{"disk", "spool: {dir: " + left + "}\n", "spool=disk spool_dir=" + left + " backlog=3"},
		{"memory", "", "spool=memory backlog=0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfgPath := filepath.Join(dir, tc.name+".yaml")
			os.WriteFile(cfgPath, []byte("netns: "+ns.Path()+"\nmetrics: {listen: off}\ngroups: [{group: 100}, {group: 101}]\n"+tc.spool), 0o600)
			a := startAgent(t, cfgPath)
			a.waitUntil(t, "the start-up line", func() bool { return strings.Contains(a.stderr.String(), "nflog-agent started") })
			want := `msg="nflog-agent started" netns=` + ns.Path() + " groups=100,101 " + tc.want
			if !strings.Contains(a.stderr.String(), want) {
				t.Errorf("stderr lacks %q:\n%s", want, a.stderr.String())
			}
			if tc.name == "disk" {
				a.waitUntil(t, "the backlog on stdout", func() bool { return strings.Count(a.stdout.String(), `{"left":`) == 3 })
			}
			a.stop(t)
		})
	}
}
