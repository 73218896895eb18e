package config

import (
	"errors"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/nflog-agent/nflog-agent/collector"
	"github.com/nflog-agent/nflog-agent/decode"
	"github.com/nflog-agent/nflog-agent/internal/logging"
	"github.com/nflog-agent/nflog-agent/internal/telemetry"
	"github.com/nflog-agent/nflog-agent/ship"
	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// Parse validates data, the contents of the file called name.
func Parse(name string, data []byte) (*Config, error) {
	cfg := Default()
	cfg.file, cfg.keyLines = name, map[string]int{}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, syntaxError(name, data, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return cfg, nil // empty file: all defaults
	}
	p := &parser{cfg: cfg}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, p.errorf(root, "(top level)", "want a mapping of keys, got %s", kindName(root))
	}
	if err := p.fields(root, "", p.topFields()); err != nil {
		return nil, err
	}
	return cfg, nil
}

// topFields are the keys of the file's top level.
func (p *parser) topFields() []field {
	c := p.cfg
	return []field{
		{"netns", text(p, &c.NetNS)},
		{"hostname", text(p, &c.Hostname)},
		{"groups", p.groups},
		{"conntrack_max_entries", integerIn(p, &c.ConntrackMaxEntries, 1024, 1<<24)},
		{"shutdown_timeout", positive(p, &c.ShutdownTimeout)},
		{"metrics", p.section(
			field{"listen", scalar(p, &c.Metrics.Listen, "a string", telemetry.ParseListen)},
			field{"pprof", boolean(p, &c.Metrics.PProf)},
		)},
		{"health", p.section(
			field{"sink_failure_threshold", positive(p, &c.Health.SinkFailureThreshold)},
		)},
		{"log", p.section(
			field{"format", scalar(p, &c.Log.Format, "a string", logging.ParseFormat)},
			field{"level", scalar(p, &c.Log.Level, "a string", logging.ParseLevel)},
		)},
		{"spool", p.spool},
		{"sinks", p.sinks},
	}
}

// groups reads the `groups:` list; the collector validates each group.
func (p *parser) groups(v *yaml.Node, path string) error {
	var out []Group
	seen := map[uint16]int{}
	err := p.list(v, path, "groups", "configure at least one group", func(n *yaml.Node, at string) error {
		g, err := p.group(n, at)
		if err != nil {
			return err
		}
		if line, dup := seen[g.Collector.Group]; dup {
			return p.errorf(n, at+".group", "group %d already configured at line %d", g.Collector.Group, line)
		}
		seen[g.Collector.Group] = n.Line
		out = append(out, g)
		return nil
	})
	p.cfg.Groups = out
	return err
}

func (p *parser) group(n *yaml.Node, path string) (Group, error) {
	var g Group
	c := &g.Collector
	hasGroup := false
	err := p.fields(n, path, []field{
		{"group", func(v *yaml.Node, at string) error {
			hasGroup = !isNull(v)
			return integerIn(p, &c.Group, 0, 65535)(v, at)
		}},
		{"snaplen", func(v *yaml.Node, at string) error {
			err := integerIn(p, &c.SnapLen, 0, 65531)(v, at)
			c.FullPacket = !isNull(v) && c.SnapLen == 0 // 0 asks for whole packets
			return err
		}},
		{"message_flags", scalar(p, &g.Decode.Flags, "a string", decode.ParseLogFlags)},
		{"mac_format", scalar(p, &g.Decode.MAC, "a string", decode.ParseMACStyle)},
		{"queue_threshold", integerIn(p, &c.QueueThreshold, 1, collector.MaxQueueThreshold)},
		{"flush_timeout", positive(p, &c.FlushTimeout)},
		{"read_buffer", size(p, &c.ReadBuffer, 1<<31-1, "2GiB", "8MiB or 8388608")},
		{"read_buffer_max", size(p, &c.ReadBufferMax, 1<<31-1, "2GiB", "8MiB or 8388608")},
		{"queue", integerIn(p, &c.Queue, 1, collector.MaxQueue)},
		{"overflow", scalar(p, &c.Overflow, "a string", collector.ParseOverflow)},
		{"actions", p.textMap(&g.Decode.Actions, "a mapping of prefix to action", func(action string) error {
			if strings.TrimSpace(action) == "" {
				return errors.New("empty action")
			}
			return nil
		})},
		{"conntrack", boolean(p, &c.Conntrack)},
	})
	if err != nil {
		return g, err
	}
	if !hasGroup {
		return g, p.errorf(n, path+".group", "missing: every entry needs its NFLOG group number")
	}
	if err := c.WithDefaults().Validate(); err != nil {
		return g, p.cfg.Place(path, err)
	}
	return g, nil
}

// spool reads the `spool:` section; the spool validates it.
func (p *parser) spool(v *yaml.Node, path string) error {
	s := &p.cfg.Spool
	err := p.fields(v, path, []field{
		{"dir", scalar(p, &s.Dir, "a string", func(d string) (string, error) {
			if d == "" {
				return "", errors.New("empty: omit dir for an in-memory queue")
			}
			return d, nil
		})},
		{"max_bytes", size(p, &s.MaxBytes, spool.MaxMaxBytes, "1024GiB", "1GiB or 1073741824")},
		{"memory_events", integerIn(p, &s.MemoryEvents, 1, spool.MaxMemoryEvents)},
		{"overflow", scalar(p, &s.WhenFull, "a string", spool.ParseWhenFull)},
		{"sync_interval", scalar(p, &s.SyncInterval, "a duration", parseSyncInterval)},
		{"sync_bytes", size(p, &s.SyncBytes, spool.MaxSyncBytes, "64MiB", "2MiB or 2097152")},
	})
	if err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return p.cfg.Place(path, err)
	}
	return nil
}

// sinks reads the `sinks:` list; ship validates each sink, and the list.
func (p *parser) sinks(v *yaml.Node, path string) error {
	var out []ship.SinkConfig
	err := p.list(v, path, "sinks", "configure at least one sink, or leave sinks out for stdout", func(n *yaml.Node, at string) error {
		var c ship.SinkConfig
		if err := p.fields(n, at, p.sinkFields(&c)); err != nil {
			return err
		}
		if err := ship.ValidateSinks([]ship.SinkConfig{c}); err != nil {
			return p.cfg.Place(at, err)
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return err
	}
	if err := ship.ValidateSinks(out); err != nil {
		return p.errorf(v, path, "%s", strings.TrimPrefix(err.Error(), "ship: "))
	}
	p.cfg.Sinks = out
	return nil
}

// sinkFields are the keys of one sink.
func (p *parser) sinkFields(c *ship.SinkConfig) []field {
	return []field{
		{"type", text(p, &c.Type)},
		{"name", text(p, &c.Name)},
		{"path", text(p, &c.Path)},
		{"url", text(p, &c.URL)},
		{"compression", text(p, &c.Compression)},
		{"timeout", duration(p, &c.Timeout)},
		{"concurrency", integer(p, &c.Concurrency)},
		{"headers", p.textMap(&c.Headers, "a mapping", nil)},
		{"format", text(p, &c.Format)},
		{"tls", p.section(
			field{"ca_file", text(p, &c.TLS.CAFile)},
			field{"cert_file", text(p, &c.TLS.CertFile)},
			field{"key_file", text(p, &c.TLS.KeyFile)},
			field{"server_name", text(p, &c.TLS.ServerName)},
			field{"insecure_skip_verify", boolean(p, &c.TLS.InsecureSkipVerify)},
		)},
		{"retry", p.section(
			field{"initial_backoff", duration(p, &c.Retry.InitialBackoff)},
			field{"max_backoff", duration(p, &c.Retry.MaxBackoff)},
			field{"max_retry_after", duration(p, &c.Retry.MaxRetryAfter)},
			field{"attempts", integer(p, &c.Retry.Attempts)},
		)},
		{"data_stream", text(p, &c.DataStream)},
		{"api_key_file", text(p, &c.APIKeyFile)},
		{"api_key_env", text(p, &c.APIKeyEnv)},
		{"username", text(p, &c.Username)},
		{"password_file", text(p, &c.PasswordFile)},
		{"password_env", text(p, &c.PasswordEnv)},
		{"region", text(p, &c.Region)},
		{"intake_key_file", text(p, &c.IntakeKeyFile)},
		{"intake_key_env", text(p, &c.IntakeKeyEnv)},
		{"address", text(p, &c.Address)},
		{"transport", text(p, &c.Transport)},
		{"framing", text(p, &c.Framing)},
		{"facility", text(p, &c.Facility)},
		{"severity", text(p, &c.Severity)},
		{"app_name", text(p, &c.AppName)},
		{"procid", text(p, &c.ProcID)},
		{"msgid", text(p, &c.MsgID)},
		{"structured_data", p.section(
			field{"id", text(p, &c.StructuredData.ID)},
			field{"params", p.textMap(&c.StructuredData.Params, "a mapping", nil)},
		)},
		{"batch", p.section(
			field{"max_events", integer(p, &c.Batch.MaxEvents)},
			field{"max_bytes", integer(p, &c.Batch.MaxBytes)},
			field{"max_age", duration(p, &c.Batch.MaxAge)},
		)},
	}
}

// parseSyncInterval reads spool.sync_interval, where 0 means no wait at all
// (the key's absence means the default).
func parseSyncInterval(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	switch {
	case err != nil || d < 0:
		return 0, want(v, "a duration from 0 (no wait) to 1s, such as 5ms")
	case d == 0:
		return spool.NoSyncInterval, nil
	}
	return d, nil
}
