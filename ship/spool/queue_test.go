package spool

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// testEvent is event i of a test stream: every field depends on i, every
// third event has no time, and every other one holds its Message in its
// JSON, as the encoder makes most events.
func testEvent(i int) Event {
	ev := Event{
		ID:      fmt.Appendf(nil, "id-%06d", i),
		Message: fmt.Appendf(nil, "IN=eth0 OUT= SRC=10.0.0.%d DST=10.0.0.1 LEN=60 N=%d", i%250, i),
		JSON:    fmt.Appendf(nil, `{"event":{"id":"id-%06d"},"n":%d}`, i, i),
	}
	if i%2 == 0 {
		ev.JSON = fmt.Appendf(nil, `{"message":"%s","event":{"id":"id-%06d"},"n":%d}`, ev.Message, i, i)
		ev.MessageAt = len(`{"message":"`)
		ev.Message = ev.JSON[ev.MessageAt : ev.MessageAt+len(ev.Message)]
	}
	if i%3 != 0 {
		ev.Time = time.Date(2026, 11, 30, 1, 2, 3, i*1000, time.UTC)
	}
	return ev
}

func appendRange(t testing.TB, q Queue, from, to int) {
	t.Helper()
	for i := from; i < to; {
		n := min(to-i, 7) // several Append calls of several events
		evs := make([]Event, 0, n)
		for j := range n {
			evs = append(evs, testEvent(i+j))
		}
		if err := q.Append(evs...); err != nil {
			t.Fatalf("Append %d..%d: %v", i, i+n, err)
		}
		i += n
	}
}

// readAll reads what is available now, in Reads of at most max events.
func readAll(t testing.TB, r Reader, max int) ([]Event, Position) {
	t.Helper()
	var all []Event
	var pos Position
	for {
		n := len(all)
		var err error
		var p Position
		all, p, err = r.Read(all, max, 1<<20)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if len(all) == n {
			return all, pos
		}
		pos = p
	}
}

// checkEvents checks that evs are the test events with the given numbers.
func checkEvents(t testing.TB, evs []Event, from, to int) {
	t.Helper()
	if len(evs) != to-from {
		t.Fatalf("got %d events, want %d (%d..%d)", len(evs), to-from, from, to)
	}
	for k, got := range evs {
		want := testEvent(from + k)
		if !bytes.Equal(got.ID, want.ID) || !bytes.Equal(got.Message, want.Message) ||
			!bytes.Equal(got.JSON, want.JSON) || got.MessageAt != want.MessageAt ||
			!got.Time.Equal(want.Time) || got.Time.IsZero() != want.Time.IsZero() {
			t.Fatalf("event %d: got %+v, want %+v", from+k, got, want)
		}
	}
}

// queueKinds runs a contract test against both Queue implementations.
func queueKinds(t *testing.T, test func(t *testing.T, open func() Queue)) {
	t.Run("disk", func(t *testing.T) {
		dir := t.TempDir()
		test(t, func() Queue {
			s, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
	t.Run("memory", func(t *testing.T) {
		test(t, func() Queue { return NewMemory(0, 0, Drop) })
	})
}

func TestQueueReadersAreIndependent(t *testing.T) {
	queueKinds(t, func(t *testing.T, open func() Queue) {
		q := open()
		a, err := q.Reader("a")
		if err != nil {
			t.Fatal(err)
		}
		b, err := q.Reader("b")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := q.Reader("a"); err == nil {
			t.Fatal("second Reader(a) succeeded")
		}
		appendRange(t, q, 0, 100)
		evs, pos := readAll(t, a, 9)
		checkEvents(t, evs, 0, 100)
		if pos.Seq != 100 {
			t.Fatalf("position after 100 events: %d", pos.Seq)
		}
		if err := a.Commit(pos); err != nil {
			t.Fatal(err)
		}
		// b has read nothing: everything is pending for it, nothing for a.
		if got := b.Stats().Pending; got != 100 {
			t.Fatalf("b pending = %d, want 100", got)
		}
		if st := a.Stats(); st.Pending != 0 || st.OldestAge != 0 {
			t.Fatalf("a stats after commit: %+v", st)
		}
		appendRange(t, q, 100, 130)
		evs, _ = readAll(t, b, 1000)
		checkEvents(t, evs, 0, 130)
		evs, _ = readAll(t, a, 1000)
		checkEvents(t, evs, 100, 130)
		if st := q.Stats(); st.Appended != 130 {
			t.Fatalf("appended = %d", st.Appended)
		}
	})
}

func TestQueueReadyAfterAppend(t *testing.T) {
	queueKinds(t, func(t *testing.T, open func() Queue) {
		q := open()
		r, err := q.Reader("s")
		if err != nil {
			t.Fatal(err)
		}
		<-r.Ready() // a new reader is ready at once: it may have a backlog
		if evs, _, _ := r.Read(nil, 10, 1<<20); len(evs) != 0 {
			t.Fatalf("read %d events from an empty queue", len(evs))
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			appendRange(t, q, 0, 1)
		}()
		<-r.Ready()
		<-done
		evs, _ := readAll(t, r, 10)
		checkEvents(t, evs, 0, 1)
	})
}

func TestQueueReadLimits(t *testing.T) {
	queueKinds(t, func(t *testing.T, open func() Queue) {
		q := open()
		r, _ := q.Reader("s")
		appendRange(t, q, 0, 50)
		evs, pos, err := r.Read(nil, 5, 1<<20)
		if err != nil || len(evs) != 5 || pos.Seq != 5 {
			t.Fatalf("Read max 5: %d events, pos %d, %v", len(evs), pos.Seq, err)
		}
		// A byte limit smaller than one event still returns one.
		evs, pos, err = r.Read(nil, 50, 1)
		if err != nil || len(evs) != 1 || pos.Seq != 6 {
			t.Fatalf("Read 1 byte: %d events, pos %d, %v", len(evs), pos.Seq, err)
		}
		checkEvents(t, evs, 5, 6)
		sz := evs[0].size()
		evs, _, _ = r.Read(nil, 50, 3*sz)
		if len(evs) != 3 {
			t.Fatalf("Read 3 events' bytes: %d events", len(evs))
		}
	})
}

func TestQueueAppendCopies(t *testing.T) {
	queueKinds(t, func(t *testing.T, open func() Queue) {
		q := open()
		r, _ := q.Reader("s")
		ev := testEvent(1)
		if err := q.Append(ev); err != nil {
			t.Fatal(err)
		}
		// The encoder reuses its buffers: the queue must not alias them.
		for _, b := range [][]byte{ev.ID, ev.Message, ev.JSON} {
			for i := range b {
				b[i] = 'X'
			}
		}
		evs, _ := readAll(t, r, 10)
		checkEvents(t, evs, 1, 2)
	})
}

func TestMemoryDropsOldestPerReader(t *testing.T) {
	m := NewMemory(10, 0, Drop)
	a, _ := m.Reader("a")
	b, _ := m.Reader("b")
	appendRange(t, m, 0, 10)
	evs, pos := readAll(t, a, 100)
	checkEvents(t, evs, 0, 10)
	a.Commit(pos)
	appendRange(t, m, 10, 25) // 15 more: 10..14 go unread
	if got := a.Stats().Dropped[DropMemory]; got != 5 {
		t.Fatalf("a dropped %d, want 5 (it had read 0..9)", got)
	}
	if got := b.Stats().Dropped[DropMemory]; got != 15 {
		t.Fatalf("b dropped %d, want 15", got)
	}
	evs, _ = readAll(t, b, 100)
	checkEvents(t, evs, 15, 25)
	evs, _ = readAll(t, a, 100)
	checkEvents(t, evs, 15, 25)
	if st := m.Stats(); st.Events != 10 {
		t.Fatalf("queued = %d, want 10", st.Events)
	}
}

func TestMemoryCloseCountsQueued(t *testing.T) {
	m := NewMemory(0, 0, Drop)
	r, _ := m.Reader("a")
	appendRange(t, m, 0, 10)
	_, pos, _ := r.Read(nil, 4, 1<<20)
	r.Commit(pos)
	m.Close()
	if got := r.Stats().Dropped[DropClosed]; got != 6 {
		t.Fatalf("dropped at close = %d, want 6", got)
	}
	if err := m.Append(testEvent(1)); err != ErrClosed {
		t.Fatalf("Append after Close: %v", err)
	}
}

func TestMemoryReleasesCommitted(t *testing.T) {
	m := NewMemory(0, 0, Drop)
	a, _ := m.Reader("a")
	b, _ := m.Reader("b")
	appendRange(t, m, 0, 20)
	_, pa := readAll(t, a, 100)
	_, pb, _ := b.Read(nil, 5, 1<<20)
	a.Commit(pa)
	b.Commit(pb)
	if st := m.Stats(); st.Events != 15 {
		t.Fatalf("queued after commits at 20 and 5: %d, want 15", st.Events)
	}
}

// TestQueueConcurrentAccounting appends from one goroutine while two readers
// read and commit at different paces under a small cap: each reader must see
// its events in order, without duplicates, and read + dropped must be all of
// them.
func TestQueueConcurrentAccounting(t *testing.T) {
	const total = 6000
	kinds := map[string]func(t *testing.T) Queue{
		"disk": func(t *testing.T) Queue {
			s, err := Open(t.TempDir(), Options{MaxBytes: 4 * minSegmentBytes, SegmentBytes: minSegmentBytes, Sync: SyncNone})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"memory": func(*testing.T) Queue { return NewMemory(500, 0, Drop) },
	}
	for kind, open := range kinds {
		t.Run(kind, func(t *testing.T) {
			q := open(t)
			defer q.Close()
			type result struct {
				read    int
				dropped uint64
				err     error
			}
			results := make(chan result, 2)
			done := make(chan struct{})
			for i, name := range []string{"fast", "slow"} {
				r, err := q.Reader(name)
				if err != nil {
					t.Fatal(err)
				}
				go func() {
					res := result{}
					last := -1
					finished := false
					for {
						batch := 50 + i*200
						evs, pos, err := r.Read(nil, batch, 1<<20)
						if err != nil {
							res.err = err
							break
						}
						for _, ev := range evs {
							var n int
							fmt.Sscanf(string(ev.ID), "id-%d", &n)
							if n <= last {
								res.err = fmt.Errorf("%s: event %d after %d", name, n, last)
							}
							last = n
						}
						res.read += len(evs)
						if len(evs) > 0 {
							r.Commit(pos)
							continue
						}
						if finished {
							break
						}
						select {
						case <-r.Ready():
						case <-done:
							finished = true // one more pass to read the rest
						}
					}
					res.dropped = r.Stats().Dropped[DropCap] + r.Stats().Dropped[DropMemory]
					results <- res
				}()
			}
			appendRange(t, q, 0, total)
			close(done)
			for range 2 {
				res := <-results
				if res.err != nil {
					t.Fatal(res.err)
				}
				if uint64(res.read)+res.dropped != total {
					t.Fatalf("read %d + dropped %d != %d", res.read, res.dropped, total)
				}
			}
		})
	}
}
