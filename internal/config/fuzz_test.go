package config

import (
	"errors"
	"os"
	"testing"
)

// No file makes the walker panic, and every refusal is an *Error that
// names the file.
func FuzzParse(f *testing.F) {
	if deploy, err := os.ReadFile("../../deploy/nflog-agent.yaml"); err == nil {
		f.Add(deploy)
	}
	for _, seed := range []string{
		"groups:\n  - group: 5\n    snaplen: 0\n    actions: {\"X \": drop}\n",
		"sinks:\n  - type: http\n    url: https://x\n    tls: {ca_file: /x}\n    retry: {attempts: 3}\n",
		"spool: {dir: /x, memory_events: 3}\nmetrics: {listen: off}\n",
		"groups: [\n", "- 1\n", "log:\n  level: verbose\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Parse("a.yaml", data)
		var ce *Error
		if err != nil && (!errors.As(err, &ce) || ce.File != "a.yaml") {
			t.Fatalf("error %v (%T) is not placed in a.yaml", err, err)
		}
	})
}
