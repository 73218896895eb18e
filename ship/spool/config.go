package spool

import (
	"errors"
	"time"

	"github.com/nflog-agent/nflog-agent/internal/setting"
)

// Config is where events wait for the sinks: a Spool in Dir, or without
// one a Memory queue, lost at stop. Zero values take the defaults.
type Config struct {
	Dir          string   // spool directory; "" = a Memory queue
	MaxBytes     int64    // size cap of either queue
	MemoryEvents int      // Memory queue only: event cap
	WhenFull     WhenFull // a full queue (or buffer before a disk spool) makes the decoders wait (default) or drop
	// The group commits of a Spool: how long a batch waits for more events
	// before its fsync (0: DefaultSyncInterval, NoSyncInterval: not at
	// all), and how much it takes at most.
	SyncInterval time.Duration
	SyncBytes    int
}

// DefaultSyncInterval lets a batch that found the buffer empty wait a little
// for more events before its fsync: at moderate rates, where batches are
// otherwise small, it saved an eighth of the HTTPS path's CPU per event
// (fewer, fuller fsyncs), and nothing at high rates, where batches fill on
// their own. The events wait that much longer to be durable.
const DefaultSyncInterval = 5 * time.Millisecond

// NoSyncInterval is the SyncInterval of a batch that never waits.
const NoSyncInterval time.Duration = -1

// Bounds of Config's sizes.
const (
	MaxMaxBytes     = 1 << 40
	MaxMemoryEvents = 1 << 26
	// A batch is held in memory while it waits and while it is written;
	// events wait that long for their fsync.
	MaxSyncBytes    = 64 << 20
	MaxSyncInterval = time.Second
)

// Appender is the configuration of the Appender in front of the queue.
func (c Config) Appender() AppenderConfig {
	wait := c.SyncInterval
	switch {
	case wait == 0:
		wait = DefaultSyncInterval
	case wait < 0:
		wait = 0
	}
	return AppenderConfig{BatchWait: wait, BatchBytes: c.SyncBytes, WhenFull: c.WhenFull}
}

// Validate reports a setting the queue cannot use, as a *setting.Error.
func (c Config) Validate() error {
	switch {
	case c.MaxBytes < 0 || c.MaxBytes > MaxMaxBytes:
		return &setting.Error{Key: "max_bytes", Err: errors.New("want 0 to 1024GiB")}
	case c.MemoryEvents < 0 || c.MemoryEvents > MaxMemoryEvents:
		return &setting.Error{Key: "memory_events", Err: errors.New("want 0 to 67108864")}
	case c.SyncInterval < NoSyncInterval || c.SyncInterval > MaxSyncInterval:
		return &setting.Error{Key: "sync_interval", Err: errors.New("want 0 to 1s (events wait that long for their fsync)")}
	case c.SyncBytes < 0 || c.SyncBytes > MaxSyncBytes:
		return &setting.Error{Key: "sync_bytes", Err: errors.New("want at most 64MiB (the batch is held in memory)")}
	case c.Dir != "" && c.MemoryEvents != 0:
		return &setting.Error{Key: "memory_events", Err: errors.New("applies to the in-memory queue only (no spool.dir)")}
	}
	return nil
}
