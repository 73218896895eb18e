package spool

import (
	"fmt"
	"sync"
	"time"
	"unsafe"
)

// Defaults for a Memory queue. The byte budget is what bounds it: 16 MiB
// holds some 12,000 events of ~1.3 KB, 50 ms at 250k events/s, which is
// what a sink that keeps up needs; a sink that stalls longer needs a disk
// spool, not a bigger queue. The event cap only binds for tiny events.
const (
	DefaultMemoryEvents = 100_000
	DefaultMemoryBytes  = 16 << 20
)

// memEntrySize is what the queue's ring spends per event besides its bytes;
// it counts towards the budget.
const memEntrySize = int(unsafe.Sizeof(memEvent{}))

// Memory is the in-memory Queue, for agents without a spool directory. It
// holds at most MaxEvents events and at most MaxBytes bytes (each event's
// bytes and its queue entry). When it is full, an append either waits for
// the readers to commit (Wait), or drops the oldest events, counted for
// each reader that had not read them (Drop). Nothing survives a
// restart. It is safe for concurrent use.
type Memory struct {
	maxEvents int
	maxBytes  int
	whenFull  WhenFull
	space     sync.Cond // signalled when a commit or Close makes room; L is &mu

	mu       sync.Mutex
	waiting  int  // appends waiting for room
	events   ring // events.at(0) has Seq base
	base     uint64
	bytes    int
	readers  map[string]*memReader
	closed   bool
	appended uint64
	lost     map[string]uint64
}

type memEvent struct {
	ev    Event
	added time.Time
	slab  *slab // the Appender block ev lives in, if any
}

// WhenFull is what an append to a full queue does: to the Memory queue, or
// to the Appender's buffer in front of a disk Spool.
type WhenFull uint8

const (
	// Wait makes the append wait until the sinks have committed enough
	// events (Memory) or the spool has taken them (Appender): the decoder
	// then waits, the NFLOG reader after it, and the kernel's socket buffer
	// takes the backlog (tens of megabytes, outside the agent's memory);
	// the kernel drops only once that is full too, counted as sequence
	// gaps. A Memory queue without readers never waits.
	Wait WhenFull = iota
	// Drop makes room at once: the Memory queue drops its oldest events,
	// counted per reader (DropMemory), so that a stalled sink never holds
	// up the others; the Appender refuses the new event, which the caller
	// counts.
	Drop
)

// ParseWhenFull reads "block" (Wait) or "drop" (Drop).
func ParseWhenFull(s string) (WhenFull, error) {
	switch s {
	case "block":
		return Wait, nil
	case "drop":
		return Drop, nil
	}
	return 0, fmt.Errorf("overflow %q: want block or drop", s)
}

// NewMemory returns an empty Memory queue; zero limits take the defaults.
func NewMemory(maxEvents, maxBytes int, whenFull WhenFull) *Memory {
	if maxEvents <= 0 {
		maxEvents = DefaultMemoryEvents
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMemoryBytes
	}
	m := &Memory{maxEvents: maxEvents, maxBytes: maxBytes, whenFull: whenFull, readers: map[string]*memReader{},
		lost: map[string]uint64{}}
	m.space.L = &m.mu
	return m
}

// Append implements Queue: it copies evs into the queue, waiting for room
// or dropping the oldest events when it is full.
func (m *Memory) Append(evs ...Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	for i := range evs {
		if err := m.push(copyEvent(&evs[i]), nil, now); err != nil {
			return err
		}
	}
	m.notifyAll()
	return nil
}

// appendOwned appends an event the queue may keep as it is: the Appender
// has copied it already, and a second copy would double the garbage of
// every event. s is the event's reference to the Appender block it lives
// in, which the queue releases once no reader can use the event any more.
func (m *Memory) appendOwned(ev Event, s *slab) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.push(ev, s, time.Now()); err != nil {
		s.Release()
		return err
	}
	m.notifyAll()
	return nil
}

// push appends one event, first waiting for room or dropping the oldest
// ones while the queue would be over its caps. It fails only once the
// queue is closed. m.mu is held.
func (m *Memory) push(ev Event, s *slab, now time.Time) error {
	for !m.closed && m.whenFull == Wait && len(m.readers) > 0 && m.full(memSize(&ev)) {
		m.notifyAll() // the readers may not know of the events queued so far
		m.waiting++
		m.space.Wait()
		m.waiting--
	}
	if m.closed {
		return ErrClosed
	}
	m.events.push(memEvent{ev: ev, added: now, slab: s})
	m.bytes += memSize(&ev)
	m.appended++
	for m.events.len() > m.maxEvents || (m.bytes > m.maxBytes && m.events.len() > 1) {
		m.dropFirst(DropMemory)
	}
	return nil
}

// full reports whether an event costing n more bytes would put the queue
// over its caps (a lone event is always let in). m.mu is held.
func (m *Memory) full(n int) bool {
	return m.events.len() >= m.maxEvents || (m.bytes+n > m.maxBytes && m.events.len() > 0)
}

// notifyAll wakes the readers; it never blocks. m.mu is held.
func (m *Memory) notifyAll() {
	for _, r := range m.readers {
		r.notify()
	}
}

// copyEvent copies ev into one allocation.
func copyEvent(ev *Event) Event { return ev.copyTo(make([]byte, ev.stored())) }

// dropFirst removes the oldest event; readers that had not read it count it
// under reason (empty: every reader had committed it). m.mu is held.
func (m *Memory) dropFirst(reason string) {
	e := m.events.at(0)
	m.bytes -= memSize(&e.ev)
	if e.slab != nil {
		m.handOver(e.slab)
	}
	m.events.pop()
	for _, r := range m.readers {
		if r.pos < m.base+1 {
			if reason != "" && r.pos == m.base {
				r.dropped[reason]++
			}
			r.pos = m.base + 1
		}
	}
	if len(m.readers) == 0 && reason != "" {
		m.lost[reason]++
	}
	m.base++
}

// handOver passes the queue's reference to the block of the oldest event,
// which it is dropping, to each reader that has the event in hand (read,
// not committed): that sink may still be writing its bytes. The reader
// releases it when it commits past the event. With no such reader, the
// block is released at once. m.mu is held.
func (m *Memory) handOver(s *slab) {
	holders := int32(0)
	for _, r := range m.readers {
		// The reader has read the event: it passes queued events only
		// by reading them.
		if r.pos > m.base && r.ack <= m.base {
			r.inHand = append(r.inHand, heldEvent{seq: m.base, slab: s})
			holders++
		}
	}
	if holders == 0 {
		s.Release()
		return
	}
	s.Hold(holders - 1)
}

// memSize is what ev costs the queue.
func memSize(ev *Event) int { return ev.size() + memEntrySize }

// collect releases the events every reader has committed. m.mu is held.
func (m *Memory) collect() {
	if len(m.readers) == 0 {
		return
	}
	low := m.base + uint64(m.events.len())
	for _, r := range m.readers {
		low = min(low, r.ack)
	}
	if m.base < low {
		m.space.Broadcast()
	}
	for m.base < low {
		m.dropFirst("")
	}
}

// Reader implements Queue. A new reader starts at the oldest queued event.
func (m *Memory) Reader(name string) (Reader, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if _, dup := m.readers[name]; dup {
		return nil, fmt.Errorf("spool: reader %q already open", name)
	}
	r := &memReader{m: m, ready: make(chan struct{}, 1), dropped: map[string]uint64{}, pos: m.base, ack: m.base}
	m.readers[name] = r
	r.notify()
	return r, nil
}

// Stats implements Queue.
func (m *Memory) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := Stats{Appended: m.appended, Lost: map[string]uint64{}, Bytes: int64(m.bytes), Events: uint64(m.events.len())}
	for k, v := range m.lost {
		st.Lost[k] = v
	}
	return st
}

// Close implements Queue. Events still queued are counted as dropped for the
// readers that had not committed them: a memory queue loses them.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	m.space.Broadcast()
	end := m.base + uint64(m.events.len())
	for _, r := range m.readers {
		if r.ack < end {
			r.dropped[DropClosed] += end - r.ack
		}
		r.inHand = nil
	}
	m.events = ring{}
	return nil
}

// memReader is one sink's Reader on a Memory queue; its fields are guarded
// by the queue's mu.
type memReader struct {
	m       *Memory
	ready   chan struct{}
	pos     uint64 // next Seq to read
	ack     uint64
	dropped map[string]uint64
	// inHand are the blocks of the events the queue dropped while this
	// reader had them in hand, oldest first: at most what it has read and
	// not committed.
	inHand []heldEvent
}

// heldEvent is a dropped event a reader may still use, and its block.
type heldEvent struct {
	seq  uint64
	slab *slab
}

// releaseCommitted releases the blocks of the dropped events the reader
// has committed. m.mu is held.
func (r *memReader) releaseCommitted() {
	n := 0
	for n < len(r.inHand) && r.inHand[n].seq < r.ack {
		r.inHand[n].slab.Release()
		n++
	}
	if n > 0 {
		kept := copy(r.inHand, r.inHand[n:])
		clear(r.inHand[kept:])
		r.inHand = r.inHand[:kept]
	}
}

func (r *memReader) notify() {
	select {
	case r.ready <- struct{}{}:
	default:
	}
}

func (r *memReader) Ready() <-chan struct{} { return r.ready }

// Read implements Reader.
func (r *memReader) Read(dst []Event, maxEvents, maxBytes int) ([]Event, Position, error) {
	m := r.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return dst, Position{Seq: r.pos}, ErrClosed
	}
	start, size := len(dst), 0
	for r.pos < m.base+uint64(m.events.len()) && len(dst)-start < maxEvents && (size < maxBytes || len(dst) == start) {
		ev := m.events.at(int(r.pos - m.base)).ev
		dst = append(dst, ev)
		size += ev.size()
		r.pos++
	}
	return dst, Position{Seq: r.pos}, nil
}

// Commit implements Reader.
func (r *memReader) Commit(pos Position) error {
	m := r.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if pos.Seq > r.ack {
		r.ack = pos.Seq
		r.releaseCommitted()
		m.collect()
	}
	return nil
}

// Stats implements Reader.
func (r *memReader) Stats() ReaderStats {
	m := r.m
	m.mu.Lock()
	defer m.mu.Unlock()
	st := ReaderStats{Dropped: map[string]uint64{}}
	for k, v := range r.dropped {
		st.Dropped[k] = v
	}
	from := max(r.ack, m.base)
	end := m.base + uint64(m.events.len())
	if from < end {
		st.Pending = end - from
		for i := int(from - m.base); i < m.events.len(); i++ {
			st.Bytes += int64(m.events.at(i).ev.size())
		}
		st.OldestAge = max(time.Since(m.events.at(int(from-m.base)).added), 0)
	}
	return st
}
