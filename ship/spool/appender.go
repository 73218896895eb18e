package spool

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/nflog-agent/nflog-agent/internal/refbuf"
)

// slabSize is the size of the blocks Add copies events into: one allocation
// per few dozen events instead of one each, which is most of what the
// garbage collector would otherwise do at 100k events/s.
const slabSize = 64 << 10

// AppenderConfig bounds an Appender's buffer and the batches it appends.
// Zero fields take the Default values.
type AppenderConfig struct {
	Events int // events the buffer holds
	Bytes  int // event bytes the buffer holds
	// A batch is one Append, so one fsync on a Spool: it takes what the
	// buffer holds, up to BatchEvents events and BatchBytes bytes, waiting
	// up to BatchWait for more when the buffer runs empty first. Under load
	// what queued during one fsync goes in the next (group commit).
	BatchEvents int
	BatchBytes  int
	BatchWait   time.Duration
	WhenFull    WhenFull // a full buffer makes Add wait (the default) or drop
}

// Defaults for AppenderConfig. The buffer, in front of a disk spool only,
// absorbs a stall of the disk of some 160 ms at 100k events/s of ~1.3 KB
// (16384 events; the byte cap binds only for larger events): with 8 MiB an
// ext4 disk's slow fsyncs dropped 0.6 % of a 100k events/s flood;
// BatchBytes lets one fsync cover the events that queued during a slow
// one. Both are held in memory, as is the spool's copy of the batch being
// written, so both count towards the agent's memory budget.
const (
	DefaultAppenderEvents      = 16384
	DefaultAppenderBytes       = 20 << 20
	DefaultAppenderBatchEvents = 8192
	DefaultAppenderBatchBytes  = 2 << 20
)

func (c AppenderConfig) withDefaults() AppenderConfig {
	c.Events = orDefault(c.Events, DefaultAppenderEvents)
	c.Bytes = orDefault(c.Bytes, DefaultAppenderBytes)
	c.BatchEvents = orDefault(c.BatchEvents, DefaultAppenderBatchEvents)
	c.BatchBytes = orDefault(c.BatchBytes, DefaultAppenderBatchBytes)
	return c
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// Appender feeds a Queue from several producer goroutines (the decoders)
// without making them wait: Add copies the event into a bounded buffer and
// returns at once, and one goroutine drains the buffer into batched Append
// calls, so a Spool pays one fsync per batch rather than per event. When
// the buffer is full (in events or bytes), Add waits for room (Wait) or
// drops the event and says so (Drop): the caller counts the drops, per
// producer. A Memory queue gets each event from Add directly instead, and
// waits or drops as it was made to.
type Appender struct {
	q     Queue
	mem   *Memory // q, when it is a Memory queue
	ch    chan queued
	cfg   AppenderConfig
	onErr func(error)
	done  chan struct{}
	bytes atomic.Int64 // event bytes in ch

	// With WhenFull Wait, Add waits on room for the bytes to fit; waiting
	// counts the Adds waiting, so that the loop only signals when one does.
	room    *sync.Cond
	waiting atomic.Int32

	free *refbuf.Pool // emptied blocks

	mu   sync.Mutex
	cur  *slab  // the block being filled
	rest []byte // its unused tail
}

// slab is a block events are copied into. Its references: one per event in
// it that the Appender holds, or the memory queue holds (a disk Spool copies
// what it appends), or a reader holds after the memory queue dropped it,
// plus one while it is the block being filled. With the last one it goes
// back to its Appender's pool.
type slab = refbuf.Buffer

// newSlabPool returns the pool of an Appender's emptied blocks, which keeps
// as many as the buffer or queue it feeds holds: a sink that catches up
// after a burst empties a full queue's blocks at once, and each one not kept
// would be garbage, then a new block to allocate and zero while the queue
// fills again. Blocks are only made when the pool is empty, so the pool
// never holds more than the queue held at its fullest.
func newSlabPool(bytes int) *refbuf.Pool { return refbuf.NewPool(slabSize, max(bytes/slabSize, 1)) }

// queued is an event in the Appender's buffer, and the block it lives in
// (nil when it has an allocation of its own).
type queued struct {
	ev Event
	s  *slab
}

// NewAppender starts an Appender. onErr, when not nil, is called (from the
// Appender's goroutine) with each Append error; the events of a failed
// Append are counted by the queue (Stats.Lost).
func NewAppender(q Queue, cfg AppenderConfig, onErr func(error)) *Appender {
	cfg = cfg.withDefaults()
	a := &Appender{q: q, cfg: cfg, onErr: onErr, done: make(chan struct{}), room: sync.NewCond(&sync.Mutex{})}
	if m, ok := q.(*Memory); ok {
		// Appending to memory is a short critical section, cheaper than a
		// channel send. A buffer in front of it would only drop events
		// whenever its goroutine waits for a core (one core: the decoder
		// runs its whole time slice first), and hold memory the queue's
		// budget already covers.
		a.mem = m
		a.free = newSlabPool(m.maxBytes)
		close(a.done)
		return a
	}
	a.free = newSlabPool(cfg.Bytes)
	a.ch = make(chan queued, cfg.Events)
	go a.loop()
	return a
}

// Add queues a copy of ev (the caller may reuse its buffers at once) and
// reports whether there was room (with a Memory queue, always until the
// queue is closed: it makes room by dropping its oldest events). It is safe
// for concurrent use, but not after Close.
func (a *Appender) Add(ev Event) bool {
	if a.mem != nil {
		qe := a.copy(&ev)
		if err := a.mem.appendOwned(qe.ev, qe.s); err != nil {
			// Only a closed queue refuses: the caller counts the event.
			if a.onErr != nil {
				a.onErr(err)
			}
			return false
		}
		return true
	}
	n := int64(ev.size())
	if a.cfg.WhenFull == Wait {
		a.reserve(n)
		a.ch <- a.copy(&ev) // waits while the buffer is full in events
		return true
	}
	if a.bytes.Add(n) > int64(a.cfg.Bytes) {
		a.bytes.Add(-n)
		return false
	}
	qe := a.copy(&ev)
	select {
	case a.ch <- qe:
		return true
	default:
		a.bytes.Add(-n)
		qe.s.Release()
		return false
	}
}

// reserve waits until n more bytes fit in the buffer, then counts them. An
// event always fits an empty buffer. While there is room it takes no lock.
func (a *Appender) reserve(n int64) {
	if a.bytes.Add(n) <= int64(a.cfg.Bytes) {
		return
	}
	a.bytes.Add(-n)
	a.room.L.Lock()
	defer a.room.L.Unlock()
	a.waiting.Add(1)
	for cur := a.bytes.Load(); cur > 0 && cur+n > int64(a.cfg.Bytes); cur = a.bytes.Load() {
		a.room.Wait()
	}
	a.waiting.Add(-1)
	a.bytes.Add(n)
}

// freed tells the Adds waiting in reserve that the loop took events out of
// the buffer.
func (a *Appender) freed() {
	if a.waiting.Load() > 0 {
		a.room.L.Lock()
		a.room.Broadcast()
		a.room.L.Unlock()
	}
}

// copy copies ev into the current block.
func (a *Appender) copy(ev *Event) queued {
	n := ev.stored()
	if n > slabSize/4 {
		return queued{ev: copyEvent(ev)} // a large event gets its own allocation
	}
	a.mu.Lock()
	if len(a.rest) < n {
		a.cur.Release()
		a.cur = a.free.Get() // its reference: the block being filled
		a.rest = a.cur.Bytes
	}
	s := a.cur
	s.Hold(1)
	b := a.rest[:n:n]
	a.rest = a.rest[n:]
	a.mu.Unlock()
	return queued{ev: ev.copyTo(b), s: s}
}

// Close appends what is buffered and stops the Appender.
func (a *Appender) Close() {
	if a.ch != nil {
		close(a.ch)
	}
	<-a.done
}

func (a *Appender) loop() {
	defer close(a.done)
	b := &appenderBatch{}
	var wait *time.Timer
	if a.cfg.BatchWait > 0 {
		wait = time.NewTimer(a.cfg.BatchWait)
	}
	for qe := range a.ch {
		b.reset()
		b.add(a, qe)
		if wait != nil {
			wait.Reset(a.cfg.BatchWait) // a stale expiry is discarded (Go 1.23 timers)
		}
		a.fill(b, wait)
		if err := a.append(b.evs, b.slabs); err != nil && a.onErr != nil {
			a.onErr(err)
		}
	}
}

// fill adds to b what the buffer holds until b is full; when the buffer
// runs empty first, it waits for more until wait fires (nil: it does not
// wait).
func (a *Appender) fill(b *appenderBatch, wait *time.Timer) {
	var timeout <-chan time.Time
	if wait != nil {
		timeout = wait.C
	}
	for len(b.evs) < a.cfg.BatchEvents && b.bytes < a.cfg.BatchBytes {
		select {
		case qe, ok := <-a.ch:
			if !ok {
				return
			}
			b.add(a, qe)
			continue
		default:
		}
		if timeout == nil {
			return // nothing more now: append what there is
		}
		select {
		case qe, ok := <-a.ch:
			if !ok {
				return
			}
			b.add(a, qe)
		case <-timeout:
			return
		}
	}
}

// appenderBatch is the batch the Appender's goroutine is filling.
type appenderBatch struct {
	evs   []Event
	slabs []*slab
	bytes int
}

func (b *appenderBatch) add(a *Appender, qe queued) {
	n := qe.ev.size()
	a.bytes.Add(-int64(n))
	a.freed()
	b.evs, b.slabs, b.bytes = append(b.evs, qe.ev), append(b.slabs, qe.s), b.bytes+n
}

func (b *appenderBatch) reset() {
	clear(b.evs)
	clear(b.slabs)
	b.evs, b.slabs, b.bytes = b.evs[:0], b.slabs[:0], 0
}

// append hands batch to the queue, which copies it, and releases the
// events' blocks.
func (a *Appender) append(batch []Event, slabs []*slab) error {
	err := a.q.Append(batch...)
	for _, s := range slabs {
		s.Release()
	}
	return err
}
