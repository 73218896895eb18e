package spool

import (
	"sync"
	"sync/atomic"
)

// slabSize is the size of the blocks Add copies events into: one allocation
// per few dozen events instead of one each, which is most of what the
// garbage collector would otherwise do at 100k events/s.
const slabSize = 64 << 10

// freeSlabs is how many emptied blocks an Appender keeps for reuse.
const freeSlabs = 16

// Appender feeds a Queue from several producer goroutines (the decoders)
// without making them wait: Add copies the event into a bounded buffer and
// returns at once, and one goroutine drains the buffer into Append calls of
// up to maxBatch events, so a Spool pays one fsync per drained batch rather
// than per event. When the buffer is full, Add drops the event and says so: the
// caller counts the drops, per producer.
type Appender struct {
	q     Queue
	ch    chan queued
	max   int
	onErr func(error)
	done  chan struct{}

	free chan *slab // emptied blocks

	mu   sync.Mutex
	cur  *slab  // the block being filled
	rest []byte // its unused tail
}

// slab is a block events are copied into. refs counts the references to
// it: one per event in it that the Appender holds, or the memory queue holds
// (a disk Spool copies what it appends), plus one while it is the block
// being filled. At zero nothing refers to it any more and it goes back to
// its Appender's free list.
type slab struct {
	buf  []byte
	refs atomic.Int32
	free chan *slab
}

// release drops one reference to s (nil: an event with its own allocation).
func (s *slab) release() {
	if s == nil || s.refs.Add(-1) != 0 {
		return
	}
	select {
	case s.free <- s:
	default:
	}
}

// queued is an event in the Appender's buffer, and the block it lives in
// (nil when it has an allocation of its own).
type queued struct {
	ev Event
	s  *slab
}

// NewAppender starts an Appender holding up to capacity events. onErr, when
// not nil, is called (from the Appender's goroutine) with each Append error;
// the events of a failed Append are counted by the queue (Stats.Lost).
func NewAppender(q Queue, capacity, maxBatch int, onErr func(error)) *Appender {
	a := &Appender{q: q, ch: make(chan queued, max(capacity, 1)), max: max(maxBatch, 1), onErr: onErr,
		done: make(chan struct{}), free: make(chan *slab, freeSlabs)}
	go a.loop()
	return a
}

// Add queues a copy of ev (the caller may reuse its buffers at once) and
// reports whether there was room. It is safe for concurrent use, but not
// after Close.
func (a *Appender) Add(ev Event) bool {
	qe := a.copy(&ev)
	select {
	case a.ch <- qe:
		return true
	default:
		qe.s.release()
		return false
	}
}

// copy copies ev into the current block.
func (a *Appender) copy(ev *Event) queued {
	n := len(ev.ID) + len(ev.Message) + len(ev.JSON)
	if n > slabSize/4 {
		return queued{ev: copyEvent(ev)} // a large event gets its own allocation
	}
	a.mu.Lock()
	if len(a.rest) < n {
		a.cur.release()
		a.cur = a.newSlab()
		a.rest = a.cur.buf
	}
	s := a.cur
	s.refs.Add(1)
	b := a.rest[:n:n]
	a.rest = a.rest[n:]
	a.mu.Unlock()
	i := copy(b, ev.ID)
	m := i + copy(b[i:], ev.Message)
	copy(b[m:], ev.JSON)
	return queued{ev: Event{ID: b[:i:i], Time: ev.Time, Message: b[i:m:m], JSON: b[m:]}, s: s}
}

// newSlab returns an emptied block if there is one, else a new one, with the
// reference of the block being filled.
func (a *Appender) newSlab() *slab {
	var s *slab
	select {
	case s = <-a.free:
	default:
		s = &slab{buf: make([]byte, slabSize), free: a.free}
	}
	s.refs.Store(1)
	return s
}

// Close appends what is buffered and stops the Appender.
func (a *Appender) Close() {
	close(a.ch)
	<-a.done
}

func (a *Appender) loop() {
	defer close(a.done)
	batch := make([]Event, 0, a.max)
	slabs := make([]*slab, 0, a.max)
	for qe := range a.ch {
		batch, slabs = append(batch[:0], qe.ev), append(slabs[:0], qe.s)
	fill:
		for len(batch) < a.max {
			select {
			case qe, ok := <-a.ch:
				if !ok {
					break fill
				}
				batch, slabs = append(batch, qe.ev), append(slabs, qe.s)
			default:
				break fill // nothing more now: append what there is
			}
		}
		if err := a.append(batch, slabs); err != nil && a.onErr != nil {
			a.onErr(err)
		}
		clear(batch)
		clear(slabs)
	}
}

// append hands batch to the queue, and with it the events' references to
// their blocks. The events are the Appender's own copies, so an in-memory
// queue keeps them without copying them again, and releases the blocks
// when it lets the events go; any other queue copies them, so the blocks
// are released at once.
func (a *Appender) append(batch []Event, slabs []*slab) error {
	if m, ok := a.q.(*Memory); ok {
		return m.appendOwned(batch, slabs)
	}
	err := a.q.Append(batch...)
	for _, s := range slabs {
		s.release()
	}
	return err
}
