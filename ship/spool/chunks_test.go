package spool

import (
	"runtime"
	"testing"
)

// Events a Read returned must not change before the reader commits past
// them, however many Reads come in between; a commit frees only the buffers
// of the events before it, and what they held is read into them again.
func TestDiskReadBuffersReusedOnlyAfterCommit(t *testing.T) {
	s := openSpool(t, t.TempDir(), Options{})
	r := reader(t, s, "es").(*diskReader)
	const total = 60000 // ~6 MB: many read chunks
	appendBatches(t, s, total)

	// Two batches in flight at a time, as with two sink workers: the
	// older is committed, then the next read, while the newer waits.
	type batch struct {
		evs  []Event
		from int
		end  Position
	}
	read := func(from int) batch {
		evs, pos, err := r.Read(nil, 2500, 8<<20)
		if err != nil {
			t.Fatal(err)
		}
		return batch{evs, from, pos}
	}
	older := read(0)
	newer := read(older.from + len(older.evs))
	for newer.from+len(newer.evs) < total {
		checkEvents(t, older.evs, older.from, older.from+len(older.evs))
		if err := r.Commit(older.end); err != nil {
			t.Fatal(err)
		}
		older, newer = newer, read(newer.from+len(newer.evs))
		checkEvents(t, older.evs, older.from, older.from+len(older.evs))
	}
	for _, b := range []batch{older, newer} {
		if err := r.Commit(b.end); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.chunks.inUse) != 0 {
		t.Fatalf("%d buffers still in use after everything was committed", len(r.chunks.inUse))
	}
	if len(r.chunks.free) == 0 {
		t.Fatal("no buffer kept for reuse")
	}
}

// Once warm, reading and committing batches allocates no read buffer.
func TestDiskReadBuffersSteadyStateAllocs(t *testing.T) {
	s := openSpool(t, t.TempDir(), Options{})
	r := reader(t, s, "es")
	appendBatches(t, s, 200000)
	batch := make([]Event, 0, 1000)
	step := func() {
		var pos Position
		var err error
		batch, pos, err = r.Read(batch[:0], 1000, 4<<20)
		if err != nil || len(batch) == 0 {
			t.Fatalf("Read: %d events, %v", len(batch), err)
		}
		if err := r.Commit(pos); err != nil {
			t.Fatal(err)
		}
	}
	// 50 batches of ~100 KB would be ~5 MB of fresh buffers; what is left
	// is the cursor writes' and the commit bookkeeping's small change.
	if grown := allocatedOnceWarm(20, 50, step); grown > 512<<10 {
		t.Fatalf("50 read+commit cycles allocated %d bytes; read buffers are not reused", grown)
	}
}

// allocatedOnceWarm runs f warm times, then runs more times and returns the
// heap bytes those allocated.
func allocatedOnceWarm(warm, runs int, f func()) uint64 {
	for range warm {
		f()
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// appendBatches appends events 0..n-1 in batches of 1000: one fsync each.
func appendBatches(t *testing.T, q Queue, n int) {
	t.Helper()
	evs := make([]Event, 0, 1000)
	for i := 0; i < n; i += len(evs) {
		evs = evs[:0]
		for j := i; j < min(n, i+1000); j++ {
			evs = append(evs, testEvent(j))
		}
		if err := q.Append(evs...); err != nil {
			t.Fatal(err)
		}
	}
}

// A sink at a low rate reads a few events at a time, many times between
// commits: the reads share chunks instead of taking a new one each.
func TestDiskSmallReadsShareChunks(t *testing.T) {
	s := openSpool(t, t.TempDir(), Options{})
	r := reader(t, s, "es")
	next := 0
	cycle := func() {
		var pos Position
		for range 20 {
			evs := make([]Event, 0, 8)
			for j := range 5 {
				evs = append(evs, testEvent(next+j))
			}
			if err := s.Append(evs...); err != nil {
				t.Fatal(err)
			}
			got, p, err := r.Read(nil, 100, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			checkEvents(t, got, next, next+5)
			next += 5
			pos = p
		}
		if err := r.Commit(pos); err != nil {
			t.Fatal(err)
		}
	}
	// 200 reads taking a 256 KiB chunk each would be 50 MB.
	if grown := allocatedOnceWarm(3, 10, cycle); grown > 2<<20 {
		t.Fatalf("200 small reads allocated %d bytes", grown)
	}
}
