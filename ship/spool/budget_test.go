package spool

import (
	"runtime"
	"testing"
)

// A flood into the default memory queue, through the Appender, with a
// sink that has stalled on its first batch, stays within the memory
// budget: the queue's bytes never exceed it (the Appender buffers nothing
// in front of a memory queue), every event is either queued, in the sink's
// hands or counted as dropped, and what the heap holds afterwards is the
// budget, not the flood.
func TestMemoryBudgetUnderFlood(t *testing.T) {
	const flood = 200_000 // ~260 MB of events, 16× the budget
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	m := NewMemory(0, 0, Drop)
	r := reader(t, m, "stalled")
	a := NewAppender(m, AppenderConfig{}, func(err error) { t.Error(err) })
	ev := benchEvent()
	var dropped uint64 // by the Appender
	if !a.Add(ev) {
		dropped++
	}
	a.Close() // the first event is appended before the sink takes it
	a = NewAppender(m, AppenderConfig{}, func(err error) { t.Error(err) })
	held, _, err := r.Read(nil, 1000, 5<<20) // and never commits
	if err != nil || len(held) != 1 {
		t.Fatalf("first read: %d events, %v", len(held), err)
	}
	peakQueue := int64(0)
	for range flood - 1 {
		if !a.Add(ev) {
			dropped++
		}
		peakQueue = max(peakQueue, m.Stats().Bytes)
	}
	a.Close()
	if peakQueue > DefaultMemoryBytes {
		t.Fatalf("peak bytes: queue %d, budget %d", peakQueue, DefaultMemoryBytes)
	}
	st, rst := m.Stats(), r.Stats()
	if st.Appended+dropped != flood {
		t.Fatalf("appended %d + dropped by the Appender %d, want %d", st.Appended, dropped, flood)
	}
	// The held event was read, then dropped by the full queue: the sink has
	// it, so it is not counted as dropped for that sink.
	if got := uint64(len(held)) + rst.Dropped[DropMemory] + rst.Pending; got != st.Appended {
		t.Fatalf("held %d + dropped %d + pending %d = %d, want the %d appended",
			len(held), rst.Dropped[DropMemory], rst.Pending, got, st.Appended)
	}
	if rst.Dropped[DropMemory] == 0 || st.Events == 0 {
		t.Fatalf("the flood did not fill the queue: %+v %+v", st, rst)
	}

	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	// The budget, plus slack: a half-filled block at each end of the
	// queue, the ring's unused half, the stalled sink's batch. The
	// Appender's free blocks hold no more than the queue did at its
	// fullest.
	const slack = 8 << 20
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > DefaultMemoryBytes+slack {
		t.Fatalf("heap grew by %d MiB after the flood, budget %d MiB", grown>>20, (DefaultMemoryBytes+slack)>>20)
	}
	t.Logf("heap grew by %.1f MiB", float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20))
	runtime.KeepAlive(held)
	runtime.KeepAlive(m)
}
