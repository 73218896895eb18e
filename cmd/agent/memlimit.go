package main

import (
	"os"
	"runtime/debug"

	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// memoryReserve is what the agent holds besides the events waiting for the
// sinks: the runtime, the decoders' tables, the reader's blocks of records
// (a 4096-record group queue), the sinks' batches being written.
const memoryReserve = 24 << 20

// minMemoryLimit keeps the limit well above what is live, so that the
// collector never runs flat out chasing a limit below the live heap.
const minMemoryLimit = 40 << 20

// memoryLimit is the soft limit for the garbage collector: the budget of
// the events waiting for the sinks (the memory queue's, or with a spool
// directory the buffer in front of it and the batch being written, which
// the spool copies once more) plus the reserve. Under a flood
// the heap then stays near what is live instead of growing to twice that
// (GOGC=100) before each collection.
func memoryLimit(c spool.Config) int64 {
	var budget int64
	if c.Dir == "" {
		budget = c.MaxBytes
		if budget == 0 {
			budget = spool.DefaultMemoryBytes
		}
	} else {
		app := c.Appender()
		if app.Bytes == 0 {
			app.Bytes = spool.DefaultAppenderBytes
		}
		if app.BatchBytes == 0 {
			app.BatchBytes = spool.DefaultAppenderBatchBytes
		}
		budget = int64(app.Bytes) + 2*int64(app.BatchBytes)
	}
	return max(minMemoryLimit, budget+memoryReserve)
}

// setMemoryLimit applies memoryLimit unless GOMEMLIMIT is set, which the
// operator's word overrides. It returns the limit and whether it set it.
func setMemoryLimit(c spool.Config) (int64, bool) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return 0, false
	}
	limit := memoryLimit(c)
	debug.SetMemoryLimit(limit)
	return limit, true
}
