package spool

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// numberedFlood adds events of benchEvent's size through a, each with its
// number in the last 8 bytes of its ID, reusing one set of buffers as the
// encoder does; it allocates nothing itself.
type numberedFlood struct {
	a    *Appender
	ev   Event
	next uint64
}

func newNumberedFlood(a *Appender) *numberedFlood {
	return &numberedFlood{a: a, ev: benchEvent()}
}

func (f *numberedFlood) add(n int) {
	for range n {
		binary.BigEndian.PutUint64(f.ev.ID[len(f.ev.ID)-8:], f.next)
		f.next++
		f.a.Add(f.ev)
	}
}

// intact reports whether evs are consecutive events of the flood, with
// their bytes as they were added.
func (f *numberedFlood) intact(evs []Event) bool {
	want := f.ev // only the number in its ID changes
	for i, ev := range evs {
		n := binary.BigEndian.Uint64(ev.ID[len(ev.ID)-8:])
		if i > 0 && n != binary.BigEndian.Uint64(evs[i-1].ID[len(ev.ID)-8:])+1 {
			return false
		}
		if !bytes.Equal(ev.ID[:len(ev.ID)-8], want.ID[:len(want.ID)-8]) ||
			!bytes.Equal(ev.Message, want.Message) || !bytes.Equal(ev.JSON, want.JSON) {
			return false
		}
	}
	return true
}

// A flood into the default memory queue while a sink holds a batch it has
// read: the full queue drops the held events along with the others, but
// their blocks must go back to the Appender once the sink has committed
// them. Once warm, a cycle of the sink (read a batch, meanwhile a flood
// that drops all of it, commit) allocates nothing at all: not one new
// block.
func TestMemoryFloodReusesHeldBlocks(t *testing.T) {
	m := NewMemory(0, 0, Drop)
	r := reader(t, m, "sink")
	a := NewAppender(m, AppenderConfig{}, func(err error) { t.Error(err) })
	f := newNumberedFlood(a)
	full := DefaultMemoryBytes / memSize(&f.ev) // events the queue holds
	f.add(full)
	var buf []Event
	cycle := func() {
		batch, pos, err := r.Read(buf[:0], 1000, 5<<20)
		if err != nil || len(batch) != 1000 {
			t.Fatalf("read %d events, %v", len(batch), err)
		}
		f.add(full + 1000) // drops the whole queue, the held batch first
		if !f.intact(batch) {
			t.Fatal("a held event was overwritten")
		}
		if err := r.Commit(pos); err != nil {
			t.Fatal(err)
		}
		buf = batch
	}
	for range 3 {
		cycle() // warm up: the free blocks, the queue's ring
	}
	if allocs := testing.AllocsPerRun(10, cycle); allocs != 0 {
		t.Fatalf("%.0f allocations per cycle of %d events, want none", allocs, full+1000)
	}
	if r.Stats().Dropped[DropMemory] == 0 {
		t.Fatal("the flood dropped nothing")
	}
}

// Producers flood a small memory queue while one sink holds each batch it
// reads until the queue has dropped all of it, as a slow sink writing its
// batch does, and another sink reads as fast as it can. Every event a sink
// holds must keep its bytes although the queue dropped it (the race
// detector sees a block handed back too early); the queue keeps no more
// dropped events than the sinks hold; and once the sinks have committed
// everything, every such block has gone back to the Appender.
func TestMemoryHeldEventsSurviveFlood(t *testing.T) {
	const (
		producers, each = 4, 50_000
		batchSize       = 500
	)
	m := NewMemory(0, 1<<20, Drop) // some 6,000 test events
	a := NewAppender(m, AppenderConfig{}, func(err error) { t.Error(err) })
	flooded := make(chan struct{})
	var readers sync.WaitGroup
	var heldDropped atomic.Bool // the queue dropped events a sink held
	for _, name := range []string{"slow", "fast"} {
		r := reader(t, m, name)
		readers.Go(func() {
			var buf []Event
			for {
				batch, pos, err := r.Read(buf[:0], batchSize, 1<<20)
				if err != nil {
					t.Error(err)
					return
				}
				if len(batch) == 0 {
					select {
					case <-flooded:
						return // read and committed all there will be
					case <-r.Ready():
						continue
					}
				}
				if name == "slow" {
					holdUntilDropped(m, pos.Seq, flooded)
				}
				checkIntact(t, batch)
				n := keptDropped(m)
				if n > 2*batchSize {
					t.Errorf("the queue keeps %d dropped events, the sinks hold at most %d", n, 2*batchSize)
				}
				if n > 0 {
					heldDropped.Store(true)
				}
				if err := r.Commit(pos); err != nil {
					t.Error(err)
				}
				buf = batch
			}
		})
	}
	var wg sync.WaitGroup
	for g := range producers {
		wg.Go(func() {
			var buf reusable
			for i := range each {
				addReused(a, &buf, testEvent(g*each+i))
			}
		})
	}
	wg.Wait()
	a.Close()
	close(flooded)
	readers.Wait()
	if !heldDropped.Load() {
		t.Error("the queue never dropped an event a sink held")
	}
	if n := keptDropped(m); n != 0 {
		t.Errorf("%d dropped events still kept after every commit", n)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lost[DropMemory] != 0 || m.appended != producers*each {
		t.Errorf("appended %d, lost %v", m.appended, m.lost)
	}
}

// holdUntilDropped waits until the queue has dropped every event before
// end, or until stop is closed.
func holdUntilDropped(m *Memory, end uint64, stop <-chan struct{}) {
	for {
		m.mu.Lock()
		dropped := m.base >= end
		m.mu.Unlock()
		if dropped {
			return
		}
		select {
		case <-stop:
			return
		default:
			runtime.Gosched()
		}
	}
}

// keptDropped is how many dropped events m keeps for the readers.
func keptDropped(m *Memory) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, r := range m.readers {
		n += len(r.inHand)
	}
	return n
}

// A sink that catches up after a burst empties a full queue's blocks at
// once: the Appender keeps them all, so the next burst fills the queue
// again without a new block.
func TestMemoryRefillReusesBlocks(t *testing.T) {
	m := NewMemory(0, 0, Drop)
	r := reader(t, m, "sink")
	a := NewAppender(m, AppenderConfig{}, func(err error) { t.Error(err) })
	f := newNumberedFlood(a)
	full := DefaultMemoryBytes / memSize(&f.ev)
	var buf []Event
	burst := func() {
		f.add(full)
		for {
			batch, pos, err := r.Read(buf[:0], 1000, 5<<20)
			if err != nil {
				t.Fatal(err)
			}
			if len(batch) == 0 {
				break
			}
			if err := r.Commit(pos); err != nil {
				t.Fatal(err)
			}
			buf = batch
		}
	}
	burst() // warm up
	if allocs := testing.AllocsPerRun(10, burst); allocs != 0 {
		t.Fatalf("%.0f allocations per burst of %d events, want none", allocs, full)
	}
	if r.Stats().Dropped[DropMemory] != 0 {
		t.Fatal("the queue dropped events of a burst it can hold")
	}
}
