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
		{[]string{"help"}, 0, "replay FILE...", ""},
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
