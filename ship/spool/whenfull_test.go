package spool

import (
	"errors"
	"runtime"
	"testing"
)

// waitFor polls cond, which reads state another goroutine changes, until it
// holds. It bounds nothing in time: the test's own timeout does.
func waitFor(cond func() bool) {
	for !cond() {
		runtime.Gosched()
	}
}

// A full Memory queue that waits drops nothing: the append waits until the
// reader commits, then goes in.
func TestMemoryWaitsForTheReader(t *testing.T) {
	m := NewMemory(3, 0, Wait)
	r := reader(t, m, "r")
	appendRange(t, m, 0, 3)
	done := make(chan error)
	go func() { done <- m.Append(testEvent(3)) }()
	waitFor(func() bool { m.mu.Lock(); defer m.mu.Unlock(); return m.waiting == 1 })

	evs, pos, err := r.Read(nil, 2, 1<<20)
	if err != nil || len(evs) != 2 {
		t.Fatalf("Read: %d events, %v", len(evs), err)
	}
	if err := r.Commit(pos); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rest, _ := readAll(t, r, 100)
	checkEvents(t, append(evs, rest...), 0, 4)
	if st := r.Stats(); len(st.Dropped) != 0 {
		t.Fatalf("dropped %v, want nothing", st.Dropped)
	}
}

// An append waiting on a full queue is released by Close, with ErrClosed,
// which the caller counts.
func TestMemoryCloseReleasesAWaitingAppend(t *testing.T) {
	m := NewMemory(2, 0, Wait)
	reader(t, m, "r")
	appendRange(t, m, 0, 2)
	done := make(chan error)
	go func() { done <- m.Append(testEvent(2)) }()
	waitFor(func() bool { m.mu.Lock(); defer m.mu.Unlock(); return m.waiting == 1 })
	m.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v, want ErrClosed", err)
	}
}

// Without a reader nothing would ever make room: the queue drops its oldest
// events instead of waiting forever.
func TestMemoryWithoutReadersNeverWaits(t *testing.T) {
	m := NewMemory(2, 0, Wait)
	appendRange(t, m, 0, 5)
	if st := m.Stats(); st.Events != 2 || st.Lost[DropMemory] != 3 {
		t.Fatalf("stats %+v, want 2 events and 3 lost", st)
	}
}

// In front of a disk spool, a full buffer makes Add wait rather than drop:
// behind a blocked Append, every event is still appended once it returns.
func TestAppenderWaitsWhenFull(t *testing.T) {
	a, q, r := appenderBehindBlockedAppend(Wait)
	for i := 1; i <= 3; i++ {
		if !a.Add(testEvent(i)) { // as large as event 0: 1..3 fit
			t.Fatalf("event %d refused", i)
		}
	}
	added := make(chan bool)
	go func() { added <- a.Add(testEvent(4)) && a.Add(testEvent(5)) }()
	waitFor(func() bool { return a.waiting.Load() == 1 })
	close(q.release)
	if !<-added {
		t.Fatal("an event was refused")
	}
	a.Close()
	evs, _ := readAll(t, r, 100)
	checkEvents(t, evs, 0, 6)
}
