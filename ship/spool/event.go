package spool

import "time"

// Event is one encoded event, the one type from the decoder to the sinks:
// decode.Encoder fills it, the spool stores it and every sink reads it.
// It is declared here, by the stage that stores it, as decode.Record is
// declared by the stage that reads records, so that neither the spool nor
// ship needs to know anything of packets, and no copy sits between stages.
//
// Append copies an Event, so the caller may reuse its buffers as soon as
// Append returns. Events handed out by
// a Reader are immutable and stay valid until that Reader commits a position
// past them: the memory queue then reuses their memory for new events. Copy
// what must outlive the commit.
type Event struct {
	ID      []byte    // event.id, the sinks' dedupe key
	Time    time.Time // @timestamp; zero when unknown
	Message []byte    // the kernel's log line
	JSON    []byte    // the encoded ECS document, one line, no newline
	// MessageAt is where Message starts in JSON when Message is a part of
	// it (the document's message field, where it needs no escaping), so
	// that copies and the spool hold the line once; 0 when it is not (a
	// document starts with '{', never with its message).
	MessageAt int
}

// messageInJSON reports whether Message is the part of JSON at MessageAt.
func (e *Event) messageInJSON() bool {
	return e.MessageAt > 0 && e.MessageAt+len(e.Message) <= len(e.JSON)
}

// stored is the number of bytes a copy of e holds: the line once.
func (e *Event) stored() int {
	n := len(e.ID) + len(e.JSON)
	if !e.messageInJSON() {
		n += len(e.Message)
	}
	return n
}

// size is what the event weighs in batch and queue limits.
func (e *Event) size() int { return e.stored() + 8 }

// copyTo copies e into b, which has room for e.stored() bytes, and returns
// the copy, whose slices are parts of b that appending to one cannot
// overwrite the next.
func (e *Event) copyTo(b []byte) Event {
	i := copy(b, e.ID)
	m := i
	if !e.messageInJSON() {
		m += copy(b[i:], e.Message)
	}
	n := m + copy(b[m:], e.JSON)
	c := Event{ID: b[:i:i], Time: e.Time, Message: b[i:m:m], JSON: b[m:n:n]}
	if e.messageInJSON() {
		end := e.MessageAt + len(e.Message)
		c.Message, c.MessageAt = c.JSON[e.MessageAt:end:end], e.MessageAt
	}
	return c
}

// Position is a place in a Queue: everything before it. The zero Position is
// the start of the queue. Positions are ordered by Seq.
type Position struct {
	Seq uint64 // number of events appended before this position
	seg uint64 // Spool: first Seq of the segment holding the position
	off int64  // Spool: byte offset in that segment
}

// Queue is what the shipper needs from a spool: appending from the decode
// side and one independent Reader per sink. Implementations are safe for
// concurrent use.
type Queue interface {
	// Append stores evs, in order, before any reader can see them.
	Append(evs ...Event) error
	// Reader returns the reader of the named sink, creating its cursor at
	// the oldest stored event when the sink is new. Register every sink
	// before the first Append: events are released once every registered
	// reader has committed them.
	Reader(name string) (Reader, error)
	// Stats returns the queue's counters.
	Stats() Stats
	// Close releases the queue. Readers fail after it.
	Close() error
}

// Reader hands one sink the events it has not read yet. A Reader is used by
// one goroutine at a time, except Ready and Stats, which are safe anywhere.
type Reader interface {
	// Read appends to dst the events available now, at most max of them and
	// about maxBytes (always at least one when any is available), and
	// returns the position after them. It does not wait: with nothing to
	// read it returns dst unchanged.
	Read(dst []Event, max, maxBytes int) ([]Event, Position, error)
	// Ready receives a value when events may have been appended since the
	// last Read returned nothing.
	Ready() <-chan struct{}
	// Commit records that every event before pos was delivered or given up
	// on. On a Spool it is persisted before Commit returns.
	Commit(pos Position) error
	// Stats returns the sink's share of the queue counters.
	Stats() ReaderStats
}

// Reasons an event is dropped before a sink had it, as used in Dropped maps.
const (
	DropCap     = "spool_full"   // the size cap deleted it before the sink read it
	DropCorrupt = "corrupt"      // its record failed the checksum
	DropMemory  = "queue_full"   // the memory queue was full
	DropClosed  = "lost_at_stop" // Memory: still queued when the queue closed
)

// Stats are the queue-wide counters.
type Stats struct {
	Appended     uint64 // events stored
	AppendErrors uint64 // Append calls that failed (events not stored)
	Lost         map[string]uint64
	Bytes        int64 // bytes held (files on disk, or event bytes in memory)
	Events       uint64
	Segments     int
	TornTails    uint64 // torn or corrupt tails cut off at open
	TornBytes    uint64 // bytes cut off
	CursorErrors uint64 // unreadable cursor files: that sink restarted at the oldest event
	// CursorSaveErrors counts failed position saves: delivery goes on, but a
	// restart before the next good save sends those events again.
	CursorSaveErrors uint64
	// RemoveErrors counts segment files whose deletion failed (and is
	// tried again).
	RemoveErrors uint64
	// Degraded lists, by Degraded* reason, what is failing now; empty when
	// the spool works normally.
	Degraded  []string
	LastError string // the last write, save or removal error
}

// Reasons an Append loses events, as used in Stats.Lost.
const (
	LostDiskFull   = "disk_full"
	LostWriteError = "write_error"
	LostTooLarge   = "too_large"
)

// ReaderStats are one sink's share of the queue.
type ReaderStats struct {
	Dropped map[string]uint64 // events the sink never got, by reason
	Pending uint64            // events appended and not yet committed
	Bytes   int64             // bytes of those events (Spool: on disk)
	// OldestAge is the age of the oldest uncommitted event, 0 when none.
	OldestAge time.Duration
}
