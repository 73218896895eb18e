package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/internal/testenv"
	"github.com/nflog-agent/nflog-agent/ship/tlstest"
)

// A secret is exposed when every user can read it, or a group other than
// the agent's own.
func TestExposed(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		mode os.FileMode
		gid  int
		want string
	}{
		{0o600, os.Getegid(), ""},
		{0o640, os.Getegid(), ""},
		{0o640, os.Getegid() + 1, "readable by group"},
		{0o644, os.Getegid(), "readable by every user"},
	}
	for _, c := range cases {
		if err := os.Chmod(file, c.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(file, -1, c.gid); err != nil {
			if os.Geteuid() != 0 {
				testenv.Skipf(t, "only root can give a file any group: %v", err)
			}
			t.Fatal(err)
		}
		if got := exposed(file); (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("mode %o, gid %d: %q, want %q", c.mode, c.gid, got, c.want)
		}
	}
}

// Certificates are warned about 30 days before they end, and once ended.
func TestExpiring(t *testing.T) {
	c, err := tlstest.SelfSignedClient("agent") // valid for a day
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(file, c.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	end := c.TLS.Leaf.NotAfter
	for now, want := range map[time.Time]string{
		end.Add(-31 * 24 * time.Hour): "",
		end.Add(-29 * 24 * time.Hour): "expires on " + end.UTC().Format(time.DateOnly) + ", in 29 days",
		end.Add(time.Hour):            "expired on " + end.UTC().Format(time.DateOnly),
	} {
		if got := expiring(file, now); (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("at %s: %q, want %q", now, got, want)
		}
	}
}

// A syslog sink in clear text is warned about unless it stays on this host.
func TestClearTextSyslogWarning(t *testing.T) {
	for src, want := range map[string]string{
		"sinks:\n  - type: syslog\n    address: siem.example.net:514\n    transport: tcp\n":  "agent.yaml:4: sinks[0].transport: events cross the network in clear text: use tls or relp+tls",
		"sinks:\n  - type: syslog\n    address: 192.0.2.1:2514\n    transport: relp\n":       "agent.yaml:4: sinks[0].transport: events cross the network in clear text",
		"sinks:\n  - type: syslog\n    address: 127.0.0.1:514\n    transport: tcp\n":         "",
		"sinks:\n  - type: syslog\n    address: siem.example.net:6514\n    transport: tls\n": "",
	} {
		cfg, err := Parse("agent.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, w := range Warnings(cfg) {
			got = append(got, w.Error())
		}
		if (want == "") != (len(got) == 0) || want != "" && !strings.Contains(strings.Join(got, "\n"), want) {
			t.Errorf("%q: warnings %q, want %q", src, got, want)
		}
	}
}
