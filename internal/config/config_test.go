package config

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/nflog-agent/nflog-agent/collector"
	"github.com/nflog-agent/nflog-agent/decode"
	"github.com/nflog-agent/nflog-agent/internal/logging"
	"github.com/nflog-agent/nflog-agent/internal/telemetry"
)

func TestParseConfig(t *testing.T) {
	const full = `# every option
netns: /run/netns/fw
hostname: fw1
groups:
  - group: 100
    snaplen: 256
    message_flags: tcpseq,tcpopt
    queue_threshold: 32
    flush_timeout: 20ms
    read_buffer: 16MiB
    read_buffer_max: 128M
    queue: 1000
    overflow: block
    actions:
      "IPTables: Dropped: ": drop
    conntrack: true
  - group: 101
    snaplen: 0
    message_flags: 0x2f
    mac_format: rfc7042
  - group: 0
conntrack_max_entries: 100000
shutdown_timeout: 3s
metrics:
  listen: "[::1]:9999"
  pprof: true
health:
  sink_failure_threshold: 90s
log:
  format: json
  level: warn
`
	got, err := Parse("agent.yaml", []byte(full))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{NetNS: "/run/netns/fw", Hostname: "fw1", Groups: []Group{
		{
			Collector: collector.GroupConfig{Group: 100, SnapLen: 256, QueueThreshold: 32, FlushTimeout: 20 * time.Millisecond,
				ReadBuffer: 16 << 20, ReadBufferMax: 128 << 20, Queue: 1000, Overflow: collector.Block, Conntrack: true},
			Decode: decode.Options{Flags: decode.FlagTCPSeq | decode.FlagTCPOpt, Actions: map[string]string{"IPTables: Dropped: ": "drop"}},
		},
		{Collector: collector.GroupConfig{Group: 101, FullPacket: true}, Decode: decode.Options{Flags: decode.FlagsAll, MAC: decode.MACRFC7042}},
		{Collector: collector.GroupConfig{Group: 0}},
	},
		ConntrackMaxEntries: 100000,
		ShutdownTimeout:     3 * time.Second,
		Metrics:             telemetry.Config{Listen: "[::1]:9999", PProf: true},
		Health:              Health{SinkFailureThreshold: 90 * time.Second},
		Log:                 logging.Config{Format: "json", Level: slog.LevelWarn},
	}
	// Where each key was read is checked by the check table test.
	if d := cmp.Diff(want, got, cmpopts.IgnoreUnexported(Config{})); d != "" {
		t.Errorf("config (-want +got):\n%s", d)
	}
}

func TestParseConfigDefaults(t *testing.T) {
	for _, in := range []string{"", "# nothing\n", "hostname: x\n"} {
		got, err := Parse("a.yaml", []byte(in))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if len(got.Groups) != 1 || got.Groups[0].Collector.Group != 100 {
			t.Errorf("%q: groups %+v, want the default group 100", in, got.Groups)
		}
	}
	if g := Default().Groups; len(g) != 1 || g[0].Collector.Group != collector.DefaultGroup || collector.DefaultGroup != 100 {
		t.Errorf("default config: %+v", g)
	}
}

// Every mistake names the file, the line and the key.
func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"colour: red\n", "a.yaml:1: colour: unknown key"},
		{"groups:\n  - group: 1\n    snaplenn: 5\n", "a.yaml:3: groups[0].snaplenn: unknown key"},
		{"groups:\n  - group: 70000\n", `a.yaml:2: groups[0].group: "70000": want an integer from 0 to 65535`},
		{"groups:\n  - group: -1\n", `a.yaml:2: groups[0].group`},
		{"groups:\n  - group: 1\n  - group: 2\n    overflow: newest\n", `a.yaml:4: groups[1].overflow: overflow "newest": want block or drop`},
		{"groups:\n  - group: 1\n    flush_timeout: 5\n", `a.yaml:3: groups[0].flush_timeout: "5": want a positive duration`},
		{"groups:\n  - group: 1\n    read_buffer: lots\n", `a.yaml:3: groups[0].read_buffer: "lots": want a size`},
		{"groups:\n  - group: 1\n    message_flags: tcpseq,bogus\n", `a.yaml:3: groups[0].message_flags: log flags`},
		{"groups:\n  - group: 1\n    mac_format: dash\n", `a.yaml:3: groups[0].mac_format: mac format "dash": want colon (aa:bb:cc:dd:ee:ff) or rfc7042`},
		{"groups:\n  - group: 1\n    snaplen: 70000\n", `a.yaml:3: groups[0].snaplen`},
		{"groups:\n  - group: 1\n  - group: 1\n", "a.yaml:3: groups[1].group: group 1 already configured at line 2"},
		{"groups:\n  - snaplen: 100\n", "a.yaml:2: groups[0].group: missing"},
		{"groups: []\n", "a.yaml:1: groups: empty"},
		{"groups: 100\n", "a.yaml:1: groups: want a list"},
		{"groups:\n  - group: 1\n    queue: 0\n", "a.yaml:3: groups[0].queue"},
		{"groups:\n  - group: 1\n    read_buffer: 64M\n    read_buffer_max: 1M\n", "groups[0].read_buffer_max"},
		{"groups:\n  - group: 1\n    actions: drop\n", "a.yaml:3: groups[0].actions: want a mapping"},
		{"groups:\n  - group: 1\n    actions:\n      \"X \": \"\"\n", `a.yaml:4: groups[0].actions["X "]: empty action`},
		{"hostname: a\nhostname: b\n", "a.yaml:2: hostname: duplicate key"},
		{"- 1\n", "a.yaml:1: (top level)"},
		{"groups: [\n", "a.yaml:1:9: not valid YAML: did not find expected node content"},
		{"shutdown_timeout: soon\n", `a.yaml:1: shutdown_timeout: "soon": want a positive duration`},
		{"metrics: 9740\n", "a.yaml:1: metrics: want a mapping"},
		{"metrics:\n  port: 9740\n", "a.yaml:2: metrics.port: unknown key (want listen or pprof)"},
		{"metrics:\n  pprof: yes please\n", `a.yaml:2: metrics.pprof: "yes please": want true or false`},
		{"metrics:\n  listen: 9740\n", `a.yaml:2: metrics.listen: "9740": want host:port`},
		{"metrics:\n  listen: localhost:http\n", `a.yaml:2: metrics.listen: "localhost:http": want host:port`},
		{"metrics:\n  listen: 127.0.0.1:70000\n", `a.yaml:2: metrics.listen`},
		{"metrics:\n  listen: [a]\n", `a.yaml:2: metrics.listen: want a string`},
		{"metrics:\n  listen: off\n  listen: on\n", "a.yaml:3: metrics.listen: duplicate key"},
		{"health:\n  sink_failure_threshold: -5m\n", `a.yaml:2: health.sink_failure_threshold: "-5m": want a positive duration`},
		{"health:\n  threshold: 5m\n", "a.yaml:2: health.threshold: unknown key"},
		{"log:\n  format: xml\n", `a.yaml:2: log.format: "xml": want text or json`},
		{"log:\n  level: verbose\n", `a.yaml:2: log.level: "verbose": want debug, info, warn or error`},
		{"log:\n  colour: red\n", "a.yaml:2: log.colour: unknown key"},
		{"log: json\n", "a.yaml:1: log: want a mapping"},
	}
	for _, tt := range tests {
		_, err := Parse("a.yaml", []byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q:\n got %v\nwant …%s…", tt.in, err, tt.want)
		}
	}
}

// `listen: off` and an empty listen both turn the endpoint off; without the
// section it is on, on loopback.
func TestParseConfigMetricsOff(t *testing.T) {
	for _, in := range []string{"metrics:\n  listen: off\n", "metrics:\n  listen: \"\"\n", "metrics:\n  listen:\n"} {
		cfg, err := Parse("a.yaml", []byte(in))
		if err != nil || cfg.Metrics.Listen != "" {
			t.Errorf("%q: listen %q, err %v; want off", in, cfg.Metrics.Listen, err)
		}
	}
	for in, want := range map[string]string{"": "127.0.0.1:9740", "metrics: {listen: \":0\"}\n": ":0", "metrics: {listen: localhost:9100}": "localhost:9100"} {
		cfg, err := Parse("a.yaml", []byte(in))
		if err != nil || cfg.Metrics.Listen != want {
			t.Errorf("%q: listen %q, err %v; want %q", in, cfg.Metrics.Listen, err, want)
		}
	}
}

func TestLoadConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, []byte("groups:\n  - group: 7\n    bogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path+":3: groups[0].bogus") {
		t.Errorf("error %v does not name file, line and key", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int{"1": 1, "8388608": 8 << 20, "8MiB": 8 << 20, "8M": 8 << 20, "512KiB": 512 << 10, "1G": 1 << 30, "4 MiB": 4 << 20} {
		if got, err := parseSize(in, 1<<31-1); err != nil || got != uint64(want) {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"0", "-1", "2GiB", "3G", "1.5M", "M", "8TB"} {
		if _, err := parseSize(in, 1<<31-1); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
