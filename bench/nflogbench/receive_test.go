package main

import (
	"strings"
	"testing"
)

func TestCountNDJSON(t *testing.T) {
	for in, want := range map[string]uint64{"": 0, "{}\n": 1, "{}\n{}": 2, "{}\n{}\n": 2} {
		n, err := countNDJSON(strings.NewReader(in))
		if err != nil || n != want {
			t.Errorf("countNDJSON(%q) = %d, %v; want %d", in, n, err, want)
		}
	}
}

func TestAgentHTTPSConfig(t *testing.T) {
	c := agentHTTPSConfig(7, "block", "log_level: info", "/w/spool", 4443, "/w/ca.pem", 2)
	for _, want := range []string{"group: 7", "overflow: block", "spool:\n  dir: /w/spool\n", "url: https://127.0.0.1:4443/ingest",
		"compression: gzip", "concurrency: 2\n", "tls: {ca_file: /w/ca.pem}", "log_level: info\n"} {
		if !strings.Contains(c, want) {
			t.Errorf("config lacks %q:\n%s", want, c)
		}
	}
}
