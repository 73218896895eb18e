package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDoctorUsage(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("groups: 100\n"), 0o600)
	for _, c := range []struct {
		args   []string
		status int
		errOut string
	}{
		{[]string{"--bogus"}, 2, "flag provided but not defined"},
		{[]string{"extra"}, 2, `unexpected argument "extra"`},
		{[]string{"--config", bad}, 1, bad + ":1: groups: want a list"},
		{[]string{"-h"}, 0, "usage: nflog-agent doctor"},
	} {
		var out, errOut bytes.Buffer
		if st := run(append([]string{"doctor"}, c.args...), &out, &errOut); st != c.status || !strings.Contains(errOut.String(), c.errOut) {
			t.Errorf("doctor %q: exit %d, stderr %q; want %d and %q", c.args, st, errOut.String(), c.status, c.errOut)
		}
	}
}
