package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/nflog-agent/nflog-agent/collector"
	"github.com/nflog-agent/nflog-agent/decode"
	"github.com/nflog-agent/nflog-agent/ship"
	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// config is the agent's configuration file, validated.
type config struct {
	NetNS           string // path of a network namespace file (e.g. /run/netns/fw); "" = the agent's own
	Hostname        string // observer.hostname; "" = os.Hostname
	Groups          []groupConfig
	ShutdownTimeout time.Duration // how long SIGTERM may take to drain what was read
	Metrics         metricsConfig
	Health          healthConfig
	Log             logConfig
	Spool           spoolConfig
	Sinks           []ship.SinkConfig // nil = ship.DefaultSinks (stdout)

	// file and keyLines say where each key was read (keyLines maps
	// groups[0].snaplen or sinks[1].tls.ca_file to its line), so that a
	// mistake found after parsing, when the agent is built, still names its
	// place. Both are empty for the built-in defaults.
	file     string
	keyLines map[string]int
}

// spoolConfig is the `spool:` section: where events wait for the sinks.
type spoolConfig struct {
	Dir          string // spool directory; "" = a bounded in-memory queue, lost at stop
	MaxBytes     int64  // size cap; 0 = the queue's default
	MemoryEvents int    // in-memory queue only: event cap; 0 = default
	// Appender feeds the queue; sync_interval and sync_bytes set its
	// batches, which are the spool's group commits.
	Appender spool.AppenderConfig
}

// metricsConfig is the `metrics:` section.
type metricsConfig struct {
	Listen string // host:port of /metrics and /healthz; "" = off
	// PProf adds Go's profiler under /debug/pprof/ on the same listener,
	// to find where the agent spends its CPU on a busy firewall.
	PProf bool
}

// healthConfig is the `health:` section.
type healthConfig struct {
	// SinkFailureThreshold is how long a sink may keep failing before
	// /healthz turns 503: short outages are what the spool is for.
	SinkFailureThreshold time.Duration
}

// logConfig is the `log:` section.
type logConfig struct {
	Format string     // "text" or "json"
	Level  slog.Level // records below it are discarded
}

// Defaults of the sections above.
const (
	defaultMetricsListen        = "127.0.0.1:9740"
	defaultShutdownTimeout      = 10 * time.Second
	defaultSinkFailureThreshold = 5 * time.Minute
)

// groupConfig is one NFLOG group: how to read it and how to render its
// records.
type groupConfig struct {
	Collector collector.GroupConfig
	Decode    decode.Options // Flags and Actions; Hostname is filled at run time
}

// defaultConfig is what `run` does without --config: group 100 (the group of
// the rules in nft/), every option at its default.
func defaultConfig() *config {
	return &config{
		Groups:          []groupConfig{{Collector: collector.GroupConfig{Group: collector.DefaultGroup}}},
		ShutdownTimeout: defaultShutdownTimeout,
		Metrics:         metricsConfig{Listen: defaultMetricsListen},
		Health:          healthConfig{SinkFailureThreshold: defaultSinkFailureThreshold},
		Log:             logConfig{Format: "text", Level: slog.LevelInfo},
	}
}

// loadConfig reads and validates a YAML configuration file.
func loadConfig(path string) (*config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &configError{File: path, Msg: reason(err).Error()}
	}
	return parseConfig(path, data)
}

// configError is a configuration mistake with its place: file, line, key
// (and column, for YAML syntax). Without a file (the built-in defaults)
// only the key is named.
type configError struct {
	File   string
	Line   int
	Column int
	Key    string
	Msg    string
}

func (e *configError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		if e.Column > 0 {
			b.WriteString(":" + strconv.Itoa(e.Column))
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// errorAt places a mistake found after parsing at key's line, or at the
// line of the nearest enclosing key that was written (a default value has
// no line of its own).
func (c *config) errorAt(key, format string, args ...any) *configError {
	line := 0
	for k := key; k != "" && line == 0; k = parentKey(k) {
		line = c.keyLines[k]
	}
	return &configError{File: c.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// parentKey strips the last element of a key path: sinks[0].tls.ca_file →
// sinks[0].tls → sinks[0] → sinks → "".
func parentKey(key string) string {
	if i := strings.LastIndexAny(key, ".["); i >= 0 {
		return key[:i]
	}
	return ""
}

// parser walks the YAML node tree so that every error can name the file,
// the line and the full key path (groups[1].overflow), which plain
// decoding into structs cannot do for bad values. It notes the line of
// every key it reads in lines.
type parser struct {
	file  string
	lines map[string]int
}

func (p *parser) errorf(n *yaml.Node, key, format string, args ...any) error {
	return &configError{File: p.file, Line: n.Line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// parseConfig validates data, the contents of the file called name.
func parseConfig(name string, data []byte) (*config, error) {
	p := &parser{file: name, lines: map[string]int{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, syntaxError(name, data, err)
	}
	cfg := defaultConfig()
	cfg.file, cfg.keyLines = name, p.lines
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return cfg, nil // empty file: all defaults
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, p.errorf(root, "(top level)", "want a mapping of keys, got %s", kindName(root))
	}
	err := p.mapping(root, "", func(key string, k, v *yaml.Node) error {
		switch key {
		case "netns":
			s, err := p.str(v, key)
			cfg.NetNS = s
			return err
		case "hostname":
			s, err := p.str(v, key)
			cfg.Hostname = s
			return err
		case "groups":
			groups, err := p.groups(v)
			cfg.Groups = groups
			return err
		case "shutdown_timeout":
			d, err := p.duration(v, key)
			cfg.ShutdownTimeout = d
			return err
		case "metrics":
			return p.metrics(v, &cfg.Metrics)
		case "health":
			return p.health(v, &cfg.Health)
		case "log":
			return p.log(v, &cfg.Log)
		case "spool":
			return p.spool(v, &cfg.Spool)
		case "sinks":
			sinks, err := p.sinks(v)
			cfg.Sinks = sinks
			return err
		}
		return p.errorf(k, key, "unknown key (want netns, hostname, groups, shutdown_timeout, metrics, health, log, spool or sinks)")
	})
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

func (p *parser) groups(v *yaml.Node) ([]groupConfig, error) {
	if v.Kind != yaml.SequenceNode {
		return nil, p.errorf(v, "groups", "want a list of groups, got %s", kindName(v))
	}
	if len(v.Content) == 0 {
		return nil, p.errorf(v, "groups", "empty: configure at least one group")
	}
	var out []groupConfig
	seen := map[uint16]int{}
	for i, item := range v.Content {
		path := fmt.Sprintf("groups[%d]", i)
		p.lines[path] = item.Line
		g, err := p.group(item, path)
		if err != nil {
			return nil, err
		}
		if line, dup := seen[g.Collector.Group]; dup {
			return nil, p.errorf(item, path+".group", "group %d already configured at line %d", g.Collector.Group, line)
		}
		seen[g.Collector.Group] = item.Line
		out = append(out, g)
	}
	return out, nil
}

func (p *parser) group(n *yaml.Node, path string) (groupConfig, error) {
	var g groupConfig
	if n.Kind != yaml.MappingNode {
		return g, p.errorf(n, path, "want a mapping, got %s", kindName(n))
	}
	hasGroup := false
	c := &g.Collector
	err := p.mapping(n, path+".", func(key string, k, v *yaml.Node) error {
		full := path + "." + key
		var err error
		switch key {
		case "group":
			var u uint64
			u, err = p.uint(v, full, 0, 65535)
			c.Group, hasGroup = uint16(u), true
		case "snaplen":
			var u uint64
			u, err = p.uint(v, full, 0, 65531)
			c.SnapLen, c.FullPacket = uint32(u), u == 0
		case "message_flags":
			var s string
			if s, err = p.str(v, full); err == nil {
				if g.Decode.Flags, err = decode.ParseLogFlags(s); err != nil {
					err = p.errorf(v, full, "%v", err)
				}
			}
		case "queue_threshold":
			var u uint64
			u, err = p.uint(v, full, 1, collector.MaxQueueThreshold)
			c.QueueThreshold = uint32(u)
		case "flush_timeout":
			c.FlushTimeout, err = p.duration(v, full)
		case "read_buffer":
			c.ReadBuffer, err = p.size(v, full)
		case "read_buffer_max":
			c.ReadBufferMax, err = p.size(v, full)
		case "queue":
			var u uint64
			u, err = p.uint(v, full, 1, 1<<24)
			c.Queue = int(u)
		case "overflow":
			var s string
			if s, err = p.str(v, full); err == nil {
				if c.Overflow, err = collector.ParseOverflow(s); err != nil {
					err = p.errorf(v, full, "%v", err)
				}
			}
		case "actions":
			g.Decode.Actions, err = p.actions(v, full)
		default:
			err = p.errorf(k, full, "unknown key (want group, snaplen, message_flags, queue_threshold, "+
				"flush_timeout, read_buffer, read_buffer_max, queue, overflow or actions)")
		}
		return err
	})
	if err != nil {
		return g, err
	}
	if !hasGroup {
		return g, p.errorf(n, path+".group", "missing: every entry needs its NFLOG group number")
	}
	if err := c.WithDefaults().Validate(); err != nil {
		return g, p.errorf(n, path, "%v", err)
	}
	if c.ReadBufferMax != 0 && c.ReadBuffer != 0 && c.ReadBufferMax < c.ReadBuffer {
		return g, p.errorf(n, path+".read_buffer_max", "%d is below read_buffer %d", c.ReadBufferMax, c.ReadBuffer)
	}
	return g, nil
}

// metrics reads `metrics: {listen: ADDR, pprof: BOOL}`. `off` or an empty
// listen value turns the endpoint off; port 0 picks a free port (tests, the
// demo).
func (p *parser) metrics(v *yaml.Node, m *metricsConfig) error {
	return p.section(v, "metrics", func(key string, k, val *yaml.Node) error {
		full := "metrics." + key
		switch key {
		case "listen":
		case "pprof":
			b, err := p.boolean(val, full)
			m.PProf = b
			return err
		default:
			return p.errorf(k, full, "unknown key (want listen or pprof)")
		}
		s, err := p.str(val, full)
		if err != nil {
			return err
		}
		if s == "off" || s == "" {
			m.Listen = ""
			return nil
		}
		host, port, err := net.SplitHostPort(s)
		if err == nil {
			_, err = strconv.ParseUint(port, 10, 16)
		}
		if err != nil || strings.ContainsAny(host, " /") {
			return p.errorf(val, full, "%q: want host:port such as 127.0.0.1:9740, or off", s)
		}
		m.Listen = s
		return nil
	})
}

// health reads `health: {sink_failure_threshold: DURATION}`.
func (p *parser) health(v *yaml.Node, h *healthConfig) error {
	return p.section(v, "health", func(key string, k, val *yaml.Node) error {
		full := "health." + key
		if key != "sink_failure_threshold" {
			return p.errorf(k, full, "unknown key (want sink_failure_threshold)")
		}
		d, err := p.duration(val, full)
		h.SinkFailureThreshold = d
		return err
	})
}

// log reads `log: {format: text|json, level: debug|info|warn|error}`.
func (p *parser) log(v *yaml.Node, l *logConfig) error {
	return p.section(v, "log", func(key string, k, val *yaml.Node) error {
		full := "log." + key
		s, err := p.str(val, full)
		if err != nil {
			return err
		}
		switch key {
		case "format":
			if s != "text" && s != "json" {
				return p.errorf(val, full, "%q: want text or json", s)
			}
			l.Format = s
		case "level":
			lv, ok := logLevels[s]
			if !ok {
				return p.errorf(val, full, "%q: want debug, info, warn or error", s)
			}
			l.Level = lv
		default:
			return p.errorf(k, full, "unknown key (want format or level)")
		}
		return nil
	})
}

var logLevels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

// section checks that a top-level section is a mapping and walks its keys.
func (p *parser) section(v *yaml.Node, name string, fn func(key string, k, v *yaml.Node) error) error {
	if v.Kind != yaml.MappingNode {
		return p.errorf(v, name, "want a mapping, got %s", kindName(v))
	}
	return p.mapping(v, name+".", fn)
}

func (p *parser) actions(v *yaml.Node, path string) (map[string]string, error) {
	if v.Kind != yaml.MappingNode {
		return nil, p.errorf(v, path, "want a mapping of prefix to action, got %s", kindName(v))
	}
	m := map[string]string{}
	err := p.mapping(v, path+".", func(prefix string, k, val *yaml.Node) error {
		full := fmt.Sprintf("%s[%q]", path, prefix)
		action, err := p.str(val, full)
		if err != nil {
			return err
		}
		if strings.TrimSpace(action) == "" {
			return p.errorf(val, full, "empty action")
		}
		m[prefix] = action
		return nil
	})
	return m, err
}

// mapping calls fn for each key of a mapping node, rejecting duplicate keys
// and non-scalar keys.
func (p *parser) mapping(n *yaml.Node, path string, fn func(key string, k, v *yaml.Node) error) error {
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return p.errorf(k, path, "keys must be plain strings")
		}
		if seen[k.Value] {
			return p.errorf(k, path+k.Value, "duplicate key")
		}
		seen[k.Value] = true
		p.lines[path+k.Value] = k.Line
		if err := fn(k.Value, k, v); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) str(v *yaml.Node, key string) (string, error) {
	if v.Kind != yaml.ScalarNode {
		return "", p.errorf(v, key, "want a string, got %s", kindName(v))
	}
	return v.Value, nil
}

func (p *parser) boolean(v *yaml.Node, key string) (bool, error) {
	var b bool
	if v.Kind != yaml.ScalarNode || v.Decode(&b) != nil {
		return false, p.errorf(v, key, "want true or false")
	}
	return b, nil
}

func (p *parser) uint(v *yaml.Node, key string, lo, hi uint64) (uint64, error) {
	if v.Kind != yaml.ScalarNode {
		return 0, p.errorf(v, key, "want a number, got %s", kindName(v))
	}
	u, err := strconv.ParseUint(v.Value, 0, 64)
	if err != nil || u < lo || u > hi {
		return 0, p.errorf(v, key, "%q: want an integer from %d to %d", v.Value, lo, hi)
	}
	return u, nil
}

func (p *parser) duration(v *yaml.Node, key string) (time.Duration, error) {
	if v.Kind != yaml.ScalarNode {
		return 0, p.errorf(v, key, "want a duration, got %s", kindName(v))
	}
	d, err := time.ParseDuration(v.Value)
	if err != nil || d <= 0 {
		return 0, p.errorf(v, key, "%q: want a positive duration such as 50ms", v.Value)
	}
	return d, nil
}

// size reads a byte count: a plain integer or one with a K/KiB, M/MiB or
// G/GiB suffix (binary multiples, as socket buffer sizes usually are).
func (p *parser) size(v *yaml.Node, key string) (int, error) {
	if v.Kind != yaml.ScalarNode {
		return 0, p.errorf(v, key, "want a size, got %s", kindName(v))
	}
	n, err := parseSize(v.Value)
	if err != nil {
		return 0, p.errorf(v, key, "%v", err)
	}
	return n, nil
}

func parseSize(s string) (int, error) {
	n, err := parseSizeMax(s, 1<<31-1, "2GiB", "8MiB or 8388608")
	return int(n), err
}

// parseSizeMax is parseSize up to limit (called limitName in errors).
func parseSizeMax(s string, limit uint64, limitName, example string) (uint64, error) {
	num, mult := strings.TrimSpace(s), uint64(1)
	for _, suf := range []struct {
		s string
		m uint64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}} {
		if strings.HasSuffix(num, suf.s) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, suf.s)), suf.m
			break
		}
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n == 0 || n > limit/mult {
		return 0, errors.New(strconv.Quote(s) + ": want a size from 1 byte to " + limitName + ", such as " + example)
	}
	return n * mult, nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return strconv.Quote(n.Value)
}
