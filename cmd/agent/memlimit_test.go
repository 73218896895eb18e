package main

import (
	"testing"

	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// The garbage collector's soft limit follows the budget of the events
// waiting for the sinks: the memory queue's, or the buffer in front of a
// disk spool and its batch, twice (the spool copies it).
func TestMemoryLimit(t *testing.T) {
	for _, c := range []struct {
		spool spool.Config
		want  int64
	}{
		{spool.Config{}, spool.DefaultMemoryBytes + memoryReserve},
		{spool.Config{MaxBytes: 256 << 20}, 256<<20 + memoryReserve},
		{spool.Config{Dir: "/x", MaxBytes: 1 << 30}, spool.DefaultAppenderBytes + 2*spool.DefaultAppenderBatchBytes + memoryReserve},
		{spool.Config{Dir: "/x", SyncBytes: 32 << 20}, spool.DefaultAppenderBytes + 64<<20 + memoryReserve},
		{spool.Config{MaxBytes: 1 << 20}, minMemoryLimit},
	} {
		if got := memoryLimit(c.spool); got != c.want {
			t.Errorf("%+v: limit %d MiB, want %d MiB", c.spool, got>>20, c.want>>20)
		}
	}
}
