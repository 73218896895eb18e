package ship

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/nflog-agent/nflog-agent/internal/setting"
	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// Check builds what New builds but creates nothing: a file sink's missing
// folder stays missing until New, which creates it.
func TestCheckOpensNoFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log", "events.ndjson")
	sinks := []SinkConfig{{Type: TypeFile, Path: path}}
	if err := Check(sinks); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Check created the folder: %v", err)
	}
	q := spool.NewMemory(0, 0, spool.Drop)
	defer q.Close()
	s, err := New(q, sinks, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.closeSinks()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("New did not create the file and its folder: %v", err)
	}
}

// Errors say which sink (by its place in the list) and which of its
// settings, once each.
func TestSinkErrorNamesSinkAndKey(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	os.WriteFile(notDir, nil, 0o600)
	cases := []struct {
		sink      SinkConfig
		key, text string
	}{
		{SinkConfig{Type: TypeHTTP, URL: "https://x", TLS: TLSConfig{CAFile: filepath.Join(dir, "ca.pem")}},
			"tls.ca_file", "ship: sink http: tls.ca_file: open " + dir + "/ca.pem: no such file or directory"},
		{SinkConfig{Type: TypeSekoia, Region: "fra1", IntakeKeyEnv: "NFLOG_AGENT_TEST_UNSET"},
			"intake_key_env", "ship: sink sekoia: intake_key_env: environment variable NFLOG_AGENT_TEST_UNSET is not set"},
		{SinkConfig{Type: TypeElasticsearch, URL: "https://x", APIKeyFile: filepath.Join(dir, "key")},
			"api_key_file", "ship: sink elasticsearch: api_key_file: open " + dir + "/key: no such file or directory"},
		{SinkConfig{Type: TypeFile, Path: filepath.Join(notDir, "events.ndjson")},
			"path", "ship: sink file: path: mkdir " + notDir + ": not a directory"},
		{SinkConfig{Type: TypeStdout, Name: "a b"},
			"name", `ship: sink a b: name: spool: sink name "a b": want 1-64 letters, digits, '_', '.' or '-'`},
	}
	for _, c := range cases {
		q := spool.NewMemory(0, 0, spool.Drop)
		_, err := New(q, []SinkConfig{{Type: TypeStdout, Name: "first"}, c.sink}, Options{})
		q.Close()
		var se *SinkError
		var ke *setting.Error
		if !errors.As(err, &se) || se.Index != 1 || !errors.As(err, &ke) || ke.Key != c.key || err.Error() != c.text {
			t.Errorf("%s sink: error %v, want %q at sinks[1].%s", c.sink.Type, err, c.text, c.key)
		}
	}
}

// Numbers that size memory or goroutines are bounded.
func TestSinkBounds(t *testing.T) {
	for _, c := range []SinkConfig{
		{Type: TypeStdout, Batch: BatchConfig{MaxEvents: maxBatchEvents + 1}},
		{Type: TypeStdout, Batch: BatchConfig{MaxBytes: maxBatchBytes + 1}},
		{Type: TypeHTTP, URL: "https://x", Concurrency: maxConcurrency + 1},
		{Type: TypeHTTP, URL: "https://x", Retry: RetryConfig{Attempts: -1}},
	} {
		var ke *setting.Error
		if err := ValidateSinks([]SinkConfig{c}); !errors.As(err, &ke) {
			t.Errorf("%+v: error %v, want a setting.Error", c, err)
		}
	}
}
