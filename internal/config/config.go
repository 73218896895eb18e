// Package config reads the agent's YAML configuration file into the
// settings of each part of the agent. It maps keys to the parts' own
// configuration types and leaves what is valid to them (the collector for
// groups, ship for sinks, the spool for its queue), placing their errors,
// like its own, at the file, line and key they are about. The agent's own
// defaults are in Default.
package config

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nflog-agent/nflog-agent/collector"
	"github.com/nflog-agent/nflog-agent/decode"
	"github.com/nflog-agent/nflog-agent/internal/logging"
	"github.com/nflog-agent/nflog-agent/internal/telemetry"
	"github.com/nflog-agent/nflog-agent/internal/writable"
	"github.com/nflog-agent/nflog-agent/ship"
	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// Config is the agent's configuration, validated.
type Config struct {
	NetNS    string // path of a network namespace file (e.g. /run/netns/fw); "" = the agent's own
	Hostname string // observer.hostname; "" = os.Hostname
	Groups   []Group
	// ConntrackMaxEntries bounds the mirror of the conntrack table that
	// groups with conntrack use on kernels that cannot attach entries to
	// NFLOG; 0 = ctmirror.DefaultMaxEntries.
	ConntrackMaxEntries int
	ShutdownTimeout     time.Duration // how long SIGTERM may take to drain what was read
	Metrics             telemetry.Config
	Health              Health
	Log                 logging.Config
	Spool               spool.Config
	Sinks               []ship.SinkConfig // nil = ship.DefaultSinks (stdout)

	// file and keyLines say where each key was read (keyLines maps
	// groups[0].snaplen or sinks[1].tls.ca_file to its line), so that a
	// mistake found after parsing, when the agent is built, still names its
	// place. Both are empty for the built-in defaults.
	file     string
	keyLines map[string]int
}

// Group is one NFLOG group: how to read it and how to render its records.
type Group struct {
	Collector collector.GroupConfig
	Decode    decode.Options // Flags, MAC and Actions; Hostname is filled at run time
}

// Health is the `health:` section.
type Health struct {
	// SinkFailureThreshold is how long a sink may keep failing before
	// /healthz turns 503: short outages are what the spool is for.
	SinkFailureThreshold time.Duration
}

// Default is what the agent does without a configuration file: group 100
// (the group of the rules in nft/), every option at its default. Each
// part fills in its own defaults for what is left zero here.
func Default() *Config {
	return &Config{
		Groups:          []Group{{Collector: collector.GroupConfig{Group: collector.DefaultGroup}}},
		ShutdownTimeout: 10 * time.Second,
		Metrics:         telemetry.Config{Listen: "127.0.0.1:9740"},
		Health:          Health{SinkFailureThreshold: 5 * time.Minute},
		Log:             logging.Config{Format: "text", Level: slog.LevelInfo},
	}
}

// Load reads and validates a YAML configuration file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: writable.Reason(err).Error()}
	}
	return Parse(path, data)
}

// Error is a configuration mistake with its place: file, line, key (and
// column, for YAML syntax). Without a file (the built-in defaults) only the
// key is named.
type Error struct {
	File   string
	Line   int
	Column int
	Key    string
	Msg    string
}

func (e *Error) Error() string {
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

// ErrorAt places a mistake found after parsing at key's line, or at the
// line of the nearest enclosing key that was written (a default value has
// no line of its own).
func (c *Config) ErrorAt(key, format string, args ...any) *Error {
	return &Error{File: c.file, Line: lineOf(c.keyLines, key), Key: key, Msg: fmt.Sprintf(format, args...)}
}

// lineOf is the line of key in lines, or of its nearest enclosing key.
func lineOf(lines map[string]int, key string) int {
	line := 0
	for k := key; k != "" && line == 0; k = parentKey(k) {
		line = lines[k]
	}
	return line
}

// parentKey strips the last element of a key path: sinks[0].tls.ca_file →
// sinks[0].tls → sinks[0] → sinks → "".
func parentKey(key string) string {
	if i := strings.LastIndexAny(key, ".["); i >= 0 {
		return key[:i]
	}
	return ""
}
