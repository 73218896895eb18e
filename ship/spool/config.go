package spool

import (
	"errors"

	"github.com/nflog-agent/nflog-agent/internal/setting"
)

// Config is where events wait for the sinks: a Spool in Dir, or without
// one a Memory queue, lost at stop. Zero values take the defaults.
type Config struct {
	Dir          string // spool directory; "" = a Memory queue
	MaxBytes     int64  // size cap of either queue
	MemoryEvents int    // Memory queue only: event cap
}

// Bounds of Config's sizes.
const (
	MaxMaxBytes     = 1 << 40
	MaxMemoryEvents = 1 << 26
)

// Validate reports a setting the queue cannot use, as a *setting.Error.
func (c Config) Validate() error {
	switch {
	case c.MaxBytes < 0 || c.MaxBytes > MaxMaxBytes:
		return &setting.Error{Key: "max_bytes", Err: errors.New("want 0 to 1024GiB")}
	case c.MemoryEvents < 0 || c.MemoryEvents > MaxMemoryEvents:
		return &setting.Error{Key: "memory_events", Err: errors.New("want 0 to 67108864")}
	case c.Dir != "" && c.MemoryEvents != 0:
		return &setting.Error{Key: "memory_events", Err: errors.New("applies to the in-memory queue only (no spool.dir)")}
	}
	return nil
}
