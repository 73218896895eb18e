package spool

import (
	"sync"
	"sync/atomic"
)

// slabSize is the size of the blocks Add copies events into: one allocation
// per few dozen events instead of one each, which is most of what the
// garbage collector would otherwise do at 100k events/s.
const slabSize = 64 << 10

// Appender feeds a Queue from several producer goroutines (the decoders)
// without making them wait: Add copies the event into a bounded buffer and
// returns at once, and one goroutine drains the buffer into Append calls of
// up to maxBatch events, so a Spool pays one fsync per drained batch rather
// than per event. When the buffer is full, Add drops the event and counts it.
type Appender struct {
	q     Queue
	ch    chan Event
	max   int
	onErr func(error)
	done  chan struct{}
	full  atomic.Uint64

	mu   sync.Mutex
	slab []byte // the rest of the current block; events keep older blocks alive
}

// NewAppender starts an Appender holding up to capacity events. onErr, when
// not nil, is called (from the Appender's goroutine) with each Append error;
// the events of a failed Append are counted by the queue (Stats.Lost).
func NewAppender(q Queue, capacity, maxBatch int, onErr func(error)) *Appender {
	a := &Appender{q: q, ch: make(chan Event, max(capacity, 1)), max: max(maxBatch, 1), onErr: onErr, done: make(chan struct{})}
	go a.loop()
	return a
}

// Add queues a copy of ev (the caller may reuse its buffers at once) and
// reports whether there was room. It is safe for concurrent use, but not
// after Close.
func (a *Appender) Add(ev Event) bool {
	select {
	case a.ch <- a.copy(&ev):
		return true
	default:
		a.full.Add(1)
		return false
	}
}

// copy copies ev into the current block. A block is freed by the garbage
// collector once no event in it is referenced any more.
func (a *Appender) copy(ev *Event) Event {
	n := len(ev.ID) + len(ev.Message) + len(ev.JSON)
	if n > slabSize/4 {
		return copyEvent(ev) // a large event gets its own allocation
	}
	a.mu.Lock()
	if len(a.slab) < n {
		a.slab = make([]byte, slabSize)
	}
	b := a.slab[:n:n]
	a.slab = a.slab[n:]
	a.mu.Unlock()
	i := copy(b, ev.ID)
	m := i + copy(b[i:], ev.Message)
	copy(b[m:], ev.JSON)
	return Event{ID: b[:i:i], Time: ev.Time, Message: b[i:m:m], JSON: b[m:]}
}

// Full returns how many events Add dropped because the buffer was full.
func (a *Appender) Full() uint64 { return a.full.Load() }

// Close appends what is buffered and stops the Appender.
func (a *Appender) Close() {
	close(a.ch)
	<-a.done
}

func (a *Appender) loop() {
	defer close(a.done)
	batch := make([]Event, 0, a.max)
	for ev := range a.ch {
		batch = append(batch[:0], ev)
	fill:
		for len(batch) < a.max {
			select {
			case ev, ok := <-a.ch:
				if !ok {
					break fill
				}
				batch = append(batch, ev)
			default:
				break fill // nothing more now: append what there is
			}
		}
		if err := a.append(batch); err != nil && a.onErr != nil {
			a.onErr(err)
		}
		clear(batch)
	}
}

// append hands batch to the queue. The events are the Appender's own
// copies, so an in-memory queue may keep them without copying them again.
func (a *Appender) append(batch []Event) error {
	if m, ok := a.q.(*Memory); ok {
		return m.appendOwned(batch)
	}
	return a.q.Append(batch...)
}
