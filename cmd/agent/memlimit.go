package main

import (
	"os"
	"runtime/debug"

	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// memoryReserve is what the agent holds besides its queues: the runtime,
// the decoders' tables, the reader's blocks of records (a 16384-record
// queue), the sinks' batches being written.
const memoryReserve = 16 << 20

// minMemoryLimit keeps the limit above what a disk-spooled agent holds
// (sinks' batches read from disk, gzip buffers), so that the collector
// never runs flat out chasing a limit below the live heap.
const minMemoryLimit = 40 << 20

// memoryLimit is the soft limit for the garbage collector: the in-memory
// queue's budget, the Appender's buffer and batch, and the reserve. Under
// a flood the heap then stays near what is live instead of growing to
// twice that (GOGC=100) before each collection.
func memoryLimit(c spoolConfig) int64 {
	app := appenderConfig(c)
	queue := int64(0)
	if c.Dir == "" {
		queue = c.MaxBytes
		if queue == 0 {
			queue = spool.DefaultMemoryBytes
		}
	}
	return max(minMemoryLimit, queue+int64(app.Bytes)+memoryReserve)
}

// appenderConfig is the configuration of the buffer in front of the queue.
// With a spool directory there is no memory queue, and the buffer gets its
// share of the memory budget: it absorbs the disk's slow fsyncs, as the
// memory queue absorbs a slow sink.
func appenderConfig(c spoolConfig) spool.AppenderConfig {
	app := c.Appender
	if app.Bytes == 0 {
		app.Bytes = spool.DefaultAppenderBytes
		if c.Dir != "" {
			app.Bytes += spool.DefaultMemoryBytes
		}
	}
	return app
}

// setMemoryLimit applies memoryLimit unless GOMEMLIMIT is set, which the
// operator's word overrides. It returns the limit and whether it set it.
func setMemoryLimit(c spoolConfig) (int64, bool) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return 0, false
	}
	limit := memoryLimit(c)
	debug.SetMemoryLimit(limit)
	return limit, true
}
