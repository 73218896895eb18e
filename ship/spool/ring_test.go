package spool

import "testing"

// The ring keeps FIFO order across wrap-arounds and growth, and gives a big
// array back once emptied.
func TestRing(t *testing.T) {
	var q ring
	next, oldest := 0, 0
	ev := func(i int) memEvent { return memEvent{ev: Event{ID: []byte{byte(i), byte(i >> 8), byte(i >> 16)}}} }
	id := func(e *memEvent) int { return int(e.ev.ID[0]) | int(e.ev.ID[1])<<8 | int(e.ev.ID[2])<<16 }
	check := func() {
		t.Helper()
		if q.len() != next-oldest {
			t.Fatalf("len %d, want %d", q.len(), next-oldest)
		}
		for i := range q.len() {
			if got := id(q.at(i)); got != oldest+i {
				t.Fatalf("at(%d) = %d, want %d", i, got, oldest+i)
			}
		}
	}
	// Push 3, pop 2, many times: the head wraps around a 64-slot array.
	for range 200 {
		for range 3 {
			q.push(ev(next))
			next++
		}
		for range 2 {
			q.pop()
			oldest++
		}
	}
	check()
	if len(q.buf) != 256 {
		t.Errorf("array of %d slots for 200 events", len(q.buf))
	}
	// Growth while wrapped keeps the order.
	for range 3 * ringKeep {
		q.push(ev(next))
		next++
	}
	check()
	for q.len() > 0 {
		q.pop()
		oldest++
	}
	if q.buf != nil {
		t.Errorf("an emptied ring keeps %d slots", len(q.buf))
	}
	q.push(ev(next))
	next++
	check()
}
