package spool

// ring is the FIFO of a Memory queue: a circular buffer whose length is a
// power of two, doubled when full. Unlike a slice trimmed at the front and
// appended at the back, it does not reallocate and copy the queue every
// time the back reaches the end of the array.
type ring struct {
	buf  []memEvent
	head int // index of the oldest event in buf
	n    int
}

// Sizes of a ring's array: the first allocation, and the size above which an
// emptied ring gives its array back (a queue that filled up during a sink
// outage should not keep, and make the garbage collector scan, that much).
const (
	ringMin  = 64
	ringKeep = 16384
)

func (q *ring) len() int { return q.n }

// at returns the i-th oldest event.
func (q *ring) at(i int) *memEvent { return &q.buf[(q.head+i)&(len(q.buf)-1)] }

func (q *ring) push(e memEvent) {
	if q.n == len(q.buf) {
		q.grow()
	}
	q.buf[(q.head+q.n)&(len(q.buf)-1)] = e
	q.n++
}

// pop removes the oldest event.
func (q *ring) pop() {
	q.buf[q.head] = memEvent{}
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.n--
	if q.n == 0 && len(q.buf) > ringKeep {
		*q = ring{}
	}
}

func (q *ring) grow() {
	buf := make([]memEvent, max(ringMin, 2*len(q.buf)))
	for i := range q.n {
		buf[i] = *q.at(i)
	}
	q.buf, q.head = buf, 0
}
