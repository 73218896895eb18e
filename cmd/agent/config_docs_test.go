package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every key the configuration parser accepts is in the configuration
// reference, and every key outside sinks is also in the example file the
// package installs: a key added to the parser without its documentation
// fails here. The keys are read from the parser's own "unknown key" errors,
// so the test follows the parser without a list of its own.
func TestConfigurationKeysDocumented(t *testing.T) {
	reference := backtickWords(t, "../../docs/configuration.md")
	example, err := os.ReadFile("../../deploy/nflog-agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, probe := range []struct {
		yaml    string
		example bool // documented in deploy/nflog-agent.yaml too
	}{
		{"zz: 1\n", true},
		{"groups:\n  - group: 1\n    zz: 1\n", true},
		{"spool:\n  zz: 1\n", true},
		{"metrics:\n  zz: 1\n", true},
		{"health:\n  zz: 1\n", true},
		{"log:\n  zz: 1\n", true},
		{"sinks:\n  - type: stdout\n    zz: 1\n", false},
		{"sinks:\n  - type: http\n    tls:\n      zz: 1\n", false},
		{"sinks:\n  - type: http\n    batch:\n      zz: 1\n", false},
		{"sinks:\n  - type: http\n    retry:\n      zz: 1\n", false},
		{"sinks:\n  - type: syslog\n    structured_data:\n      zz: 1\n", false},
	} {
		keys := acceptedKeys(t, probe.yaml)
		for _, k := range keys {
			if !reference[k] {
				t.Errorf("key %q (accepted after %q) is not in docs/configuration.md", k, strings.TrimSuffix(probe.yaml, "zz: 1\n"))
			}
			if probe.example && !regexp.MustCompile(`\b`+k+`\b`).Match(example) {
				t.Errorf("key %q is not in deploy/nflog-agent.yaml", k)
			}
		}
	}
}

// acceptedKeys runs `check` on a configuration with an unknown key zz and
// returns the keys its error offers instead.
func acceptedKeys(t *testing.T, yaml string) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "probe.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	run([]string{"check", "--config", path}, &stdout, &stderr)
	m := regexp.MustCompile(`zz: unknown key \(want (?:one of )?(.*)\)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("check of %q: %s, want an unknown-key error listing the keys", yaml, stderr.String())
	}
	list := strings.ReplaceAll(m[1], " or ", ", ")
	return strings.Split(list, ", ")
}

// backtickWords returns the words inside the `code spans` of a Markdown
// file, outside fenced examples: a key must be in the text or the tables.
func backtickWords(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	span, word := regexp.MustCompile("`[^`]+`"), regexp.MustCompile(`\w+`)
	words, fenced := map[string]bool{}, false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		for _, s := range span.FindAllString(line, -1) {
			for _, w := range word.FindAllString(s, -1) {
				words[w] = true
			}
		}
	}
	return words
}
