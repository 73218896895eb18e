package spool

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// reusable is one set of event buffers reused for every event, as the
// encoder reuses its own: an Appender must copy what it is given.
type reusable struct{ id, line, doc []byte }

// addReused adds ev through r's buffers.
func addReused(a *Appender, r *reusable, ev Event) bool {
	r.id = append(r.id[:0], ev.ID...)
	r.doc = append(r.doc[:0], ev.JSON...)
	e := Event{ID: r.id, JSON: r.doc, Time: ev.Time, MessageAt: ev.MessageAt}
	if ev.MessageAt > 0 {
		e.Message = r.doc[ev.MessageAt : ev.MessageAt+len(ev.Message)]
	} else {
		r.line = append(r.line[:0], ev.Message...)
		e.Message = r.line
	}
	return a.Add(e)
}

func TestAppenderFeedsTheQueue(t *testing.T) {
	s := openSpool(t, t.TempDir(), Options{})
	r := reader(t, s, "r")
	a := NewAppender(s, AppenderConfig{Events: 10000, BatchEvents: 256}, func(err error) { t.Error(err) })
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			var buf reusable
			for i := range 500 {
				if !addReused(a, &buf, testEvent(g*500+i)) {
					t.Error("buffer full")
				}
			}
		})
	}
	wg.Wait()
	a.Close()
	evs, _ := readAll(t, r, 1000)
	seen := map[string]bool{}
	for _, ev := range evs {
		seen[string(ev.ID)] = true
	}
	if len(evs) != 2000 || len(seen) != 2000 {
		t.Fatalf("%d events, %d distinct", len(evs), len(seen))
	}
	if s.Stats().Appended != 2000 {
		t.Fatalf("appended %d", s.Stats().Appended)
	}
}

// blockedQueue is a Queue whose Append waits for release: it stands in for
// a slow disk to fill the Appender's buffer.
type blockedQueue struct {
	Queue
	entered chan struct{}
	release chan struct{}
}

func (q *blockedQueue) Append(evs ...Event) error {
	q.entered <- struct{}{}
	<-q.release
	return q.Queue.Append(evs...)
}

func TestAppenderCountsWhatDoesNotFit(t *testing.T) {
	m := NewMemory(0, 0, Drop)
	r, _ := m.Reader("r")
	q := &blockedQueue{Queue: m, entered: make(chan struct{}, 10), release: make(chan struct{})}
	a := NewAppender(q, AppenderConfig{Events: 3, BatchEvents: 100, WhenFull: Drop}, nil)
	a.Add(testEvent(0))
	<-q.entered // the loop holds event 0 in a blocked Append
	dropped := 0
	for i := 1; i <= 5; i++ {
		if !a.Add(testEvent(i)) { // 1..3 fit, 4 and 5 do not
			dropped++
		}
	}
	close(q.release)
	a.Close()
	evs, _ := readAll(t, r, 100)
	checkEvents(t, evs, 0, 4)
	if dropped != 2 {
		t.Fatalf("dropped %d, want 2", dropped)
	}
}

// The buffer is bounded in bytes too: with room for 1000 events but only
// 3 events' bytes, the 4th and 5th queued behind a blocked Append are
// dropped and counted.
func TestAppenderBoundedInBytes(t *testing.T) {
	a, q, r := appenderBehindBlockedAppend(Drop)
	dropped := 0
	for i := 1; i <= 5; i++ {
		if !a.Add(testEvent(i)) { // as large as event 0: 1..3 fit, 4 and 5 do not
			dropped++
		}
	}
	close(q.release)
	a.Close()
	evs, _ := readAll(t, r, 100)
	checkEvents(t, evs, 0, 4)
	if dropped != 2 {
		t.Fatalf("dropped %d, want 2", dropped)
	}
}

// The Appender's copies are the memory queue's events: they must not share
// memory with the caller's reused buffers nor with each other, and a large
// event gets its own allocation.
func TestAppenderCopiesIntoMemory(t *testing.T) {
	q := NewMemory(0, 0, Drop)
	r := reader(t, q, "r")
	a := NewAppender(q, AppenderConfig{Events: 10000, BatchEvents: 64}, func(err error) { t.Error(err) })
	var buf reusable
	want := make([]Event, 0, 3001)
	for i := range 3000 {
		ev := testEvent(i)
		addReused(a, &buf, ev)
		want = append(want, ev)
	}
	big := testEvent(3001) // its line is not in the document it loses
	big.JSON = make([]byte, slabSize)
	a.Add(big)
	want = append(want, big)
	a.Close()
	got, _ := readAll(t, r, 1000)
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if string(g.ID) != string(w.ID) || string(g.Message) != string(w.Message) || string(g.JSON) != string(w.JSON) || !g.Time.Equal(w.Time) {
			t.Fatalf("event %d differs: %q %q", i, g.ID, g.Message)
		}
	}
}

// With a disk spool the blocks are reused once their events are appended.
// Producers racing with the Appender (and with drops, from a small buffer)
// must never see an event overwritten by a later one: every event read back
// is intact, and every event is either in the spool or counted as dropped.
func TestAppenderReusesBlocks(t *testing.T) {
	s := openSpool(t, t.TempDir(), Options{})
	r := reader(t, s, "r")
	a := NewAppender(s, AppenderConfig{Events: 64, BatchEvents: 16}, func(err error) { t.Error(err) })
	const producers, each = 4, 3000
	var wg sync.WaitGroup
	var dropped atomic.Uint64
	for g := range producers {
		wg.Go(func() {
			var buf reusable
			for i := range each {
				if !addReused(a, &buf, testEvent(g*each+i)) {
					dropped.Add(1)
				}
			}
		})
	}
	wg.Wait()
	a.Close()
	evs, _ := readAll(t, r, 1000)
	if uint64(len(evs))+dropped.Load() != producers*each {
		t.Fatalf("%d events read + %d dropped, want %d", len(evs), dropped.Load(), producers*each)
	}
	checkIntact(t, evs)
	if freeBlocks(a) == 0 {
		t.Error("no block was handed back for reuse")
	}
}

// With the memory queue the blocks are reused once the events leave the
// queue. An event a sink has read but not committed must stay intact even
// when the full queue drops it meanwhile; after commit its block may go.
func TestAppenderMemoryReusesBlocks(t *testing.T) {
	// Small, so that the producer overflows it, but larger than a block:
	// once the readers have committed everything, the blocks of all but
	// the newest events go back to the Appender.
	m := NewMemory(2000, 0, Drop)
	a := NewAppender(m, AppenderConfig{Events: 64, BatchEvents: 16}, func(err error) { t.Error(err) })
	var readers sync.WaitGroup
	appended := make(chan struct{}) // closed once every event is in the queue
	for _, name := range []string{"fast", "slow"} {
		r := reader(t, m, name)
		readers.Go(func() {
			var buf []Event
			for {
				select {
				case <-r.Ready():
				case <-appended:
				}
				batch, pos, err := r.Read(buf[:0], 50, 1<<20)
				if err != nil {
					t.Error(err)
					return
				}
				if len(batch) == 0 {
					select {
					case <-appended:
						return // read and committed all there will be
					default:
						continue
					}
				}
				if name == "slow" {
					runtime.Gosched() // the producer overflows the queue meanwhile
				}
				checkIntact(t, batch)
				if err := r.Commit(pos); err != nil {
					t.Error(err)
				}
				buf = batch
			}
		})
	}
	var buf reusable
	for i := range 100000 {
		addReused(a, &buf, testEvent(i))
	}
	a.Close()
	close(appended)
	readers.Wait()
	if freeBlocks(a) == 0 {
		t.Error("no block was handed back for reuse")
	}
}

// freeBlocks is how many emptied blocks a keeps for reuse.
func freeBlocks(a *Appender) int { return a.free.Free() }

// checkIntact checks that each event is the test event its ID names.
func checkIntact(t *testing.T, evs []Event) {
	t.Helper()
	for _, ev := range evs {
		var n int
		if _, err := fmt.Sscanf(string(ev.ID), "id-%d", &n); err != nil {
			t.Fatalf("event ID %q: %v", ev.ID, err)
		}
		want := testEvent(n)
		if string(ev.Message) != string(want.Message) || string(ev.JSON) != string(want.JSON) {
			t.Fatalf("event %d overwritten: %q %q", n, ev.Message, ev.JSON)
		}
	}
}

// batchLog is a Queue that records the size of each Append, and can hold
// one until released, as a slow fsync does.
type batchLog struct {
	Queue
	mu      sync.Mutex
	sizes   []int
	entered chan struct{}
	release chan struct{}
}

func (q *batchLog) Append(evs ...Event) error {
	q.mu.Lock()
	q.sizes = append(q.sizes, len(evs))
	q.mu.Unlock()
	if q.entered != nil {
		q.entered <- struct{}{}
		<-q.release
	}
	return q.Queue.Append(evs...)
}

// Group commit: the events that queue while one Append (one fsync) runs go
// into the next one together, up to BatchEvents and BatchBytes.
func TestAppenderGroupCommit(t *testing.T) {
	// Even and odd test events differ in size (the line in or out of the
	// document): the average of a pair.
	even, odd := testEvent(0), testEvent(1)
	size := (even.size() + odd.size()) / 2
	q := &batchLog{Queue: NewMemory(0, 0, Drop), entered: make(chan struct{}, 100), release: make(chan struct{})}
	r := reader(t, q.Queue, "r")
	a := NewAppender(q, AppenderConfig{BatchEvents: 1000, BatchBytes: 40 * size}, func(err error) { t.Error(err) })
	a.Add(testEvent(0))
	<-q.entered // the first batch is being synced
	for i := 1; i <= 100; i++ {
		a.Add(testEvent(i))
	}
	close(q.release)
	a.Close()
	evs, _ := readAll(t, r, 1000)
	checkEvents(t, evs, 0, 101)
	// A batch ends at the first event that reaches BatchBytes.
	if len(q.sizes) != 4 || q.sizes[0] != 1 || q.sizes[1] < 39 || q.sizes[1] > 41 || q.sizes[1]+q.sizes[2]+q.sizes[3] != 100 {
		t.Fatalf("batches %v, want 1 then three of at most ~40 events", q.sizes)
	}
}

// With BatchWait, a batch that empties the buffer waits for more events
// instead of syncing at once: here the wait never ends by itself, so every
// event goes into the one batch that Close ends.
func TestAppenderBatchWait(t *testing.T) {
	q := &batchLog{Queue: NewMemory(0, 0, Drop)}
	r := reader(t, q.Queue, "r")
	a := NewAppender(q, AppenderConfig{BatchWait: time.Hour}, func(err error) { t.Error(err) })
	for i := range 50 {
		a.Add(testEvent(i))
		runtime.Gosched() // let the Appender take each one as it comes
	}
	a.Close()
	evs, _ := readAll(t, r, 1000)
	checkEvents(t, evs, 0, 50)
	if len(q.sizes) != 1 {
		t.Fatalf("batches %v, want one of 50", q.sizes)
	}
}

// appenderBehindBlockedAppend is an Appender with room for 1000 events but
// only 3 events' bytes, in front of a memory queue read by r, whose loop
// holds event 0 in an Append blocked until q.release is closed.
func appenderBehindBlockedAppend(whenFull WhenFull) (*Appender, *blockedQueue, Reader) {
	m := NewMemory(0, 0, Drop)
	r, _ := m.Reader("r")
	q := &blockedQueue{Queue: m, entered: make(chan struct{}, 10), release: make(chan struct{})}
	first := testEvent(0)
	a := NewAppender(q, AppenderConfig{Events: 1000, Bytes: 3 * first.size(), WhenFull: whenFull}, nil)
	a.Add(first)
	<-q.entered
	return a, q, r
}
