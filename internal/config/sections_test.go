package config

import (
	"reflect"
	"slices"

	"go.yaml.in/yaml/v3"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nflog-agent/nflog-agent/ship"
	"github.com/nflog-agent/nflog-agent/ship/spool"
)

func TestParseConfigShipping(t *testing.T) {
	const src = `spool:
  dir: /var/lib/nflog-agent/spool
  max_bytes: 4GiB
sinks:
  - type: http
    name: collector
    url: https://collector.example.net/ingest
    format: json_array
    timeout: 10s
    headers:
      Authorization: Bearer x
      X-Any-Header: y
    tls:
      ca_file: /etc/ca.pem
      insecure_skip_verify: false
    retry: {initial_backoff: 1s, attempts: 3}
    batch: {max_events: 500, max_age: 200ms}
  - type: file
    path: /var/log/events.ndjson
  - type: sekoia
    region: fra2
    intake_key_env: KEY
  - type: sekoia
    name: sekoia-relay
    transport: syslog
    address: relay.example.net:10514
    intake_key_file: /etc/nflog-agent/intake.key
    tls: {ca_file: /etc/relay-ca.pem}
  - type: syslog
    address: siem.example.net:6514
    transport: relp+tls
    format: json
    app_name: fw
    procid: "7"
    msgid: NETFILTER
    facility: local5
    severity: info
    structured_data:
      id: origin@32473
      params: {site: paris}
`
	cfg, err := Parse("agent.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if want := (spool.Config{Dir: "/var/lib/nflog-agent/spool", MaxBytes: 4 << 30}); cfg.Spool != want {
		t.Errorf("spool %+v, want %+v", cfg.Spool, want)
	}
	want := []ship.SinkConfig{
		{Type: "http", Name: "collector", URL: "https://collector.example.net/ingest", Format: "json_array",
			Timeout: 10 * time.Second, Headers: map[string]string{"Authorization": "Bearer x", "X-Any-Header": "y"},
			TLS:   ship.TLSConfig{CAFile: "/etc/ca.pem"},
			Retry: ship.RetryConfig{InitialBackoff: time.Second, Attempts: 3},
			Batch: ship.BatchConfig{MaxEvents: 500, MaxAge: 200 * time.Millisecond}},
		{Type: "file", Path: "/var/log/events.ndjson"},
		{Type: "sekoia", Region: "fra2", IntakeKeyEnv: "KEY"},
		{Type: "sekoia", Name: "sekoia-relay", Transport: "syslog", Address: "relay.example.net:10514",
			IntakeKeyFile: "/etc/nflog-agent/intake.key", TLS: ship.TLSConfig{CAFile: "/etc/relay-ca.pem"}},
		{Type: "syslog", Address: "siem.example.net:6514", Transport: "relp+tls", Format: "json", AppName: "fw",
			ProcID: "7", MsgID: "NETFILTER", Facility: "local5", Severity: "info",
			StructuredData: ship.StructuredData{ID: "origin@32473", Params: map[string]string{"site": "paris"}}},
	}
	if d := cmp.Diff(want, cfg.Sinks); d != "" {
		t.Errorf("sinks (-want +got):\n%s", d)
	}

	mem, err := Parse("agent.yaml", []byte("spool: {memory_events: 5000, max_bytes: 64MiB}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (spool.Config{MemoryEvents: 5000, MaxBytes: 64 << 20}); mem.Spool != want || mem.Sinks != nil {
		t.Errorf("memory spool %+v, sinks %v", mem.Spool, mem.Sinks)
	}

	disk, err := Parse("agent.yaml", []byte("spool: {dir: /var/spool/x, sync_interval: 5ms, sync_bytes: 2MiB}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (spool.Config{Dir: "/var/spool/x", SyncInterval: 5 * time.Millisecond, SyncBytes: 2 << 20}); disk.Spool != want {
		t.Errorf("disk spool %+v, want %+v", disk.Spool, want)
	}

	// A batch waits DefaultSyncInterval for more events unless told
	// otherwise; 0 means it does not wait at all.
	for yaml, wait := range map[string]time.Duration{
		"spool: {dir: /x}\n":                      spool.DefaultSyncInterval,
		"spool: {dir: /x, sync_interval: 0}\n":    0,
		"spool: {dir: /x, sync_interval: 20ms}\n": 20 * time.Millisecond,
	} {
		c, err := Parse("agent.yaml", []byte(yaml))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Spool.Appender().BatchWait; got != wait {
			t.Errorf("%q: batches wait %v, want %v", yaml, got, wait)
		}
	}
}

func TestParseConfigShippingErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		// Unknown keys anywhere inside a sink, with their line.
		{"sinks:\n  - type: http\n    url: https://x\n    tls:\n      ca_fil: /x\n", "agent.yaml:5: sinks[0].tls.ca_fil: unknown key (want one of ca_file, cert_file, "},
		{"sinks:\n  - type: stdout\n  - type: http\n    url: https://x\n    retry: {attempt: 3}\n", "agent.yaml:5: sinks[1].retry.attempt: unknown key"},
		{"sinks:\n  - type: stdout\n    bogus: 1\n", "agent.yaml:3: sinks[0].bogus: unknown key"},
		// Bad values, with their line and key.
		{"sinks:\n  - type: http\n    url: https://x\n    timeout: soon\n", `agent.yaml:4: sinks[0].timeout: "soon": want a duration such as 30s`},
		{"sinks:\n  - type: http\n    url: https://x\n    batch:\n      max_events: many\n", `agent.yaml:5: sinks[0].batch.max_events: "many": want an integer`},
		{"sinks:\n  - type: http\n    url: https://x\n    tls: {insecure_skip_verify: maybe}\n", `agent.yaml:4: sinks[0].tls.insecure_skip_verify: "maybe": want true or false`},
		{"sinks:\n  - type: http\n    url: https://x\n    headers: [a]\n", "agent.yaml:4: sinks[0].headers: want a mapping"},
		// What ship would refuse at start.
		{"sinks:\n  - type: http\n", "agent.yaml:2: sinks[0]: sink http: url is required"},
		{"sinks:\n  - type: kafka\n", `agent.yaml:2: sinks[0]: sink kafka: unknown type "kafka"`},
		{"sinks:\n  - type: stdout\n  - type: stdout\n", `agent.yaml:2: sinks: two sinks are named "stdout"`},
		{"sinks:\n  - type: sekoia\n    region: mars\n    intake_key_env: K\n", `agent.yaml:3: sinks[0].region: "mars": want fra1`},
		{"sinks: []\n", "agent.yaml:1: sinks: empty"},
		// syslog and sekoia transports.
		{"sinks:\n  - type: syslog\n    address: x:514\n    transport: udp\n", `agent.yaml:4: sinks[0].transport: "udp": want tcp, tls, relp or relp+tls`},
		{"sinks:\n  - type: syslog\n    address: x:514\n    facility: local9\n", `agent.yaml:4: sinks[0].facility: "local9": want kern`},
		{"sinks:\n  - type: syslog\n    address: x:514\n    structured_data: {id: a b}\n", `agent.yaml:4: sinks[0].structured_data: structured data id "a b"`},
		{"sinks:\n  - type: syslog\n    address: x:514\n    structured_data: {idd: x}\n", "agent.yaml:4: sinks[0].structured_data.idd: unknown key"},
		{"sinks:\n  - type: sekoia\n    transport: relp\n    url: https://x\n    intake_key_env: K\n", "agent.yaml:4: sinks[0].url: applies to the https transport"},
		{"sinks:\n  - type: http\n    url: https://x\n    msgid: LOG\n", "apply to syslog sinks only"},
		{"sinks: {type: stdout}\n", "agent.yaml:1: sinks: want a list"},
		// The spool section.
		{"spool:\n  dirr: /x\n", "agent.yaml:2: spool.dirr: unknown key"},
		{"spool:\n  max_bytes: lots\n", `agent.yaml:2: spool.max_bytes: "lots": want a size`},
		{"spool:\n  dir: /x\n  memory_events: 10\n", "agent.yaml:3: spool.memory_events: applies to the in-memory queue only"},
		{"spool:\n  sync_interval: 2s\n", "agent.yaml:2: spool.sync_interval: want 0 to 1s"},
		{"spool:\n  sync_interval: -1ms\n", `agent.yaml:2: spool.sync_interval: "-1ms": want a duration from 0 (no wait) to 1s`},
		{"spool:\n  sync_bytes: 1GiB\n", `agent.yaml:2: spool.sync_bytes: "1GiB": want a size from 1 byte to 64MiB`},
	}
	for _, c := range cases {
		_, err := Parse("agent.yaml", []byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.src, err, c.want)
		}
	}
}

// Every key ship documents on SinkConfig with a yaml tag is one the
// configuration file takes, at the same place, and no other.
func TestSinkKeysMatchShip(t *testing.T) {
	var tagged func(t reflect.Type, prefix string) []string
	tagged = func(t reflect.Type, prefix string) []string {
		var out []string
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
				out = append(out, tagged(f.Type, prefix+name+".")...)
				continue
			}
			out = append(out, prefix+name)
		}
		return out
	}
	p := &parser{cfg: &Config{keyLines: map[string]int{}}}
	read := func(fields []field, prefix string) []string {
		var out []string
		for _, f := range fields {
			// A section's reader says which keys it takes when given one
			// it does not know.
			n := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
				{Kind: yaml.ScalarNode, Value: "?"}, {Kind: yaml.ScalarNode, Value: "x"}}}
			err := f.read(n, prefix+f.key)
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			keys, ok := strings.CutPrefix(msg, prefix+f.key+".?: unknown key (want ")
			if !ok || f.key == "headers" || f.key == "params" {
				out = append(out, prefix+f.key)
				continue
			}
			keys = strings.NewReplacer("one of ", "", " or ", ", ", ")", "").Replace(keys)
			for k := range strings.SplitSeq(keys, ", ") {
				out = append(out, prefix+f.key+"."+k)
			}
		}
		return out
	}
	want := tagged(reflect.TypeFor[ship.SinkConfig](), "")
	got := read(p.sinkFields(&ship.SinkConfig{}), "")
	slices.Sort(want)
	slices.Sort(got)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("sink keys (-ship's yaml tags +config's):\n%s", d)
	}
}
