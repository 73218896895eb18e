package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
				t.Skipf("only root can give a file any group: %v", err)
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
