package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nflog-agent/nflog-agent/internal/config"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("groups:\n  - group: 5\n"), 0o600)
	os.WriteFile(bad, []byte("groups:\n  - group: 5\n    snaplen: huge\n"), 0o600)
	cases := []struct {
		args        []string
		status      int
		out, errOut string
	}{
		{[]string{"--config", good}, 0, good + ": ok\n", ""},
		// The loader's error, with file, line and key.
		{[]string{"--config", bad}, 1, "", bad + ":3: groups[0].snaplen: "},
		{[]string{"--config", filepath.Join(dir, "missing.yaml")}, 1, "", "missing.yaml: no such file"},
		{nil, 2, "", "--config FILE is required"},
		{[]string{"--config", good, "extra"}, 2, "", `unexpected argument "extra"`},
		{[]string{"-h"}, 0, "", "usage: nflog-agent check --config FILE"},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		status := run(append([]string{"check"}, c.args...), &out, &errOut)
		if status != c.status || (c.out != "" && out.String() != c.out) || !strings.Contains(errOut.String(), c.errOut) {
			t.Errorf("check %q: exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr containing %q",
				c.args, status, out.String(), errOut.String(), c.status, c.out, c.errOut)
		}
	}
}

// The example configuration the package installs as
// /etc/nflog-agent/nflog-agent.yaml must be accepted as it is.
func TestCheckShippedConfig(t *testing.T) {
	const path = "../../deploy/nflog-agent.yaml"
	var out, errOut bytes.Buffer
	if status := run([]string{"check", "--config", path}, &out, &errOut); status != 0 || out.String() != path+": ok\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", status, out.String(), errOut.String())
	}
	// Its values are the defaults it documents: loading it is the same as
	// running without a config.
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	def := config.Default()
	if len(cfg.Groups) != 1 || cfg.Groups[0].Collector.WithDefaults() != def.Groups[0].Collector.WithDefaults() {
		t.Errorf("deploy/nflog-agent.yaml differs from the defaults: %+v", cfg.Groups)
	}
	if cfg.ShutdownTimeout != def.ShutdownTimeout || cfg.Metrics != def.Metrics || cfg.Health != def.Health || cfg.Log != def.Log {
		t.Errorf("deploy/nflog-agent.yaml differs from the defaults:\n got %v %+v %+v %+v\nwant %v %+v %+v %+v",
			cfg.ShutdownTimeout, cfg.Metrics, cfg.Health, cfg.Log, def.ShutdownTimeout, def.Metrics, def.Health, def.Log)
	}
}
