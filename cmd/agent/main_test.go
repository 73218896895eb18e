package main

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
)

func TestDispatch(t *testing.T) {
	cases := []struct {
		args        []string
		status      int
		out, errOut string
	}{
		{[]string{"version"}, 0, runtime.Version(), ""},
		{[]string{"--version"}, 0, runtime.Version(), ""},
		{[]string{"-version"}, 0, runtime.Version(), ""},
		{[]string{"help"}, 0, "replay FILE...", ""},
		{[]string{"--help"}, 0, "replay FILE...", ""},
		{[]string{"-h"}, 0, "replay FILE...", ""},
		{[]string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{[]string{"replay"}, 2, "", "no FILE given"},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		if status := run(c.args, &out, &errOut); status != c.status {
			t.Errorf("%v: exit %d, want %d (stderr %q)", c.args, status, c.status, errOut.String())
		}
		if !strings.Contains(out.String(), c.out) || !strings.Contains(errOut.String(), c.errOut) {
			t.Errorf("%v: stdout %q stderr %q, want them to contain %q and %q", c.args, out.String(), errOut.String(), c.out, c.errOut)
		}
	}
}

// Help lists every command there is, each on one line with what it does.
func TestHelpListsEveryCommand(t *testing.T) {
	var out bytes.Buffer
	if status := run([]string{"--help"}, &out, &out); status != 0 {
		t.Fatalf("--help: exit %d", status)
	}
	lines := map[string]string{}
	for line := range strings.Lines(out.String()) {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(line, "  ") {
			lines[f[0]] = line
		}
	}
	for _, c := range subcommands() {
		line, ok := lines[c.name]
		if !ok {
			t.Errorf("help does not list %q:\n%s", c.name, out.String())
			continue
		}
		if !strings.Contains(line, c.summary) {
			t.Errorf("help line for %q lacks its summary: %q", c.name, line)
		}
	}
	if len(lines) != len(subcommands()) {
		t.Errorf("help lists %d commands, there are %d:\n%s", len(lines), len(subcommands()), out.String())
	}
}
