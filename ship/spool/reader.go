package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// diskReader is one sink's Reader on a Spool. Its position fields are
// guarded by the spool's mu, because the size cap moves readers that are
// still inside a segment it deletes.
type diskReader struct {
	s     *Spool
	name  string
	ready chan struct{}

	cmu    sync.Mutex  // serialises Commit's file writes
	cursor *cursorFile // nil until it could be created

	// guarded by s.mu
	saveFailing bool // the last position save failed

	pos     Position // next event to read
	gen     uint64   // bumped when pos is moved under the reader's feet
	ack     Position // last committed position
	dropped map[string]uint64
	marks   []ageMark // first event time of each uncommitted Read

	// The open segment file, used by Read; fmu lets the spool close it
	// when it deletes the file, so that its space is freed at once.
	fmu  sync.Mutex
	f    *os.File
	fseg uint64

	chunks chunkList // the buffers Read decodes events in
}

// ageMark remembers when the events from seq on were logged, for OldestAge.
type ageMark struct {
	seq uint64
	t   time.Time
}

// Reader returns the named sink's Reader, positioned at its saved cursor or,
// for a new sink, at the oldest stored event. Each name may be opened once.
func (s *Spool) Reader(name string) (Reader, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	cur, saved, err := openCursor(s.dir, name)
	if errors.Is(err, errBadCursor) {
		s.log.Warn("spool: unreadable cursor file, the sink starts again at the oldest event (duplicates)",
			"sink", name, "err", err)
		s.mu.Lock()
		s.cursorErr++
		s.mu.Unlock()
		err = nil
	}
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		cur.close()
		return nil, ErrClosed
	}
	if _, dup := s.readers[name]; dup {
		s.mu.Unlock()
		cur.close()
		return nil, fmt.Errorf("spool: reader %q already open", name)
	}
	r := &diskReader{s: s, name: name, ready: make(chan struct{}, 1), dropped: map[string]uint64{}, cursor: cur}
	r.pos = s.place(saved, cur != nil, r)
	r.ack = r.pos
	s.readers[name] = r
	s.mu.Unlock()
	if cur == nil {
		// Save the starting point at once: should the sink be left out of
		// the configuration for a while, what the cap deletes meanwhile is
		// still counted when it comes back. On a full disk, the first
		// Commit tries again.
		r.cmu.Lock()
		r.save(r.pos)
		r.cmu.Unlock()
	}
	r.notify()
	return r, nil
}

// place turns a saved cursor into a valid position. s.mu is held.
func (s *Spool) place(p Position, ok bool, r *diskReader) Position {
	oldest := s.segs[0]
	switch {
	case !ok:
		return Position{Seq: oldest.start, seg: oldest.start, off: segHeaderSize}
	case p.Seq < oldest.start:
		// Deleted by the cap while the agent was down or before the
		// sink committed: those events are gone for this sink.
		r.dropped[DropCap] += oldest.start - p.Seq
		return Position{Seq: oldest.start, seg: oldest.start, off: segHeaderSize}
	case p.Seq >= s.end.Seq:
		// Past the end: a power loss cut events the sink had already
		// delivered. New events start at the end.
		return s.end
	}
	if i := s.segIndex(p.seg); i >= 0 && p.off >= segHeaderSize && p.off <= s.segs[i].size &&
		(i == len(s.segs)-1 || p.Seq <= s.segs[i+1].start) {
		return p
	}
	// The cursor does not match the files; fall back to its Seq, found by
	// counting records from the start of its segment.
	return s.seek(p.Seq)
}

// seek finds the position of event seq by scanning its segment. s.mu is
// held; this only happens at Reader time on inconsistent cursors.
func (s *Spool) seek(seq uint64) Position {
	i := segFor(s.segs, seq)
	sg := s.segs[i]
	p := Position{Seq: sg.start, seg: sg.start, off: segHeaderSize}
	f, err := os.Open(segPath(s.dir, sg.start))
	if err != nil {
		return p
	}
	defer f.Close()
	cr := newChunkReader(io.NewSectionReader(f, segHeaderSize, sg.size-segHeaderSize))
	for p.Seq < seq {
		b, _ := cr.next(frameHeader)
		_, n, err := readRecord(b)
		if errors.Is(err, errShort) && n > 0 {
			b, _ = cr.next(n)
			_, n, err = readRecord(b)
		}
		if err != nil {
			break
		}
		cr.consume(n)
		p.Seq++
		p.off += int64(n)
	}
	return p
}

// segFor returns the index of the segment holding seq.
func segFor(segs []*segment, seq uint64) int {
	i := len(segs) - 1
	for i > 0 && segs[i].start > seq {
		i--
	}
	return i
}

func (r *diskReader) notify() {
	select {
	case r.ready <- struct{}{}:
	default:
	}
}

func (r *diskReader) Ready() <-chan struct{} { return r.ready }

// closeFile closes the open segment file. fmu is held.
func (r *diskReader) closeFile() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

// closeSegment closes the open segment file if it is the one starting at
// start, or whichever it is with any set. s.mu must not be held.
func (r *diskReader) closeSegment(start uint64, any bool) {
	r.fmu.Lock()
	defer r.fmu.Unlock()
	if any || r.fseg == start {
		r.closeFile()
	}
}

// readChunk is how much a Read asks the file for at least: enough for many
// small records per system call.
const readChunk = 256 << 10

// Read implements Reader. Records are read without holding the spool's lock;
// if the size cap deleted the segment meanwhile, what was read is discarded
// (the cap already counted it as dropped) and the read starts again.
func (r *diskReader) Read(dst []Event, maxEvents, maxBytes int) ([]Event, Position, error) {
	s := r.s
	r.fmu.Lock()
	defer r.fmu.Unlock()
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return dst, r.pos, ErrClosed
		}
		pos, gen := r.pos, r.gen
		i := s.segIndex(pos.seg)
		if i < 0 {
			// Cannot happen: dropOldest moves readers first.
			s.mu.Unlock()
			return dst, pos, fmt.Errorf("spool: reader %s: segment %d vanished", r.name, pos.seg)
		}
		sealed := i < len(s.segs)-1
		limit, limitSeq := s.end.off, s.end.Seq
		var next Position
		if sealed {
			limit, limitSeq = s.segs[i].size, s.segs[i+1].start
			next = Position{Seq: limitSeq, seg: limitSeq, off: segHeaderSize}
		}
		s.mu.Unlock()

		if pos.off >= limit {
			if !sealed {
				return dst, pos, nil
			}
			// End of a sealed segment; events it should still have held
			// were lost to corruption.
			r.move(gen, next, limitSeq-min(pos.Seq, limitSeq))
			continue
		}
		out, npos, err := r.readSegment(dst, pos, limit, maxEvents, maxBytes)
		if errors.Is(err, errCorrupt) || errors.Is(err, errShort) {
			// Skip the rest of the segment (its lengths cannot be
			// trusted) and count the events it held.
			if !sealed {
				next = Position{Seq: limitSeq, seg: pos.seg, off: limit}
			}
			r.move(gen, next, limitSeq-min(pos.Seq, limitSeq))
			continue
		}
		if err != nil {
			s.mu.Lock()
			moved := r.gen != gen || s.closed
			s.mu.Unlock()
			if moved {
				continue
			}
			return dst, pos, fmt.Errorf("spool: reader %s: %w", r.name, err)
		}
		s.mu.Lock()
		if r.gen != gen {
			s.mu.Unlock()
			clear(out[len(dst):])
			continue
		}
		r.pos = npos
		if len(out) > len(dst) {
			t := out[len(dst)].Time
			if t.IsZero() {
				t = time.Now()
			}
			r.marks = append(r.marks, ageMark{seq: pos.Seq, t: t})
		}
		s.mu.Unlock()
		return out, npos, nil
	}
}

// move repositions the reader at p unless the cap moved it first, counting
// lost events as corrupt.
func (r *diskReader) move(gen uint64, p Position, lost uint64) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if r.gen != gen {
		return
	}
	if lost > 0 {
		r.dropped[DropCorrupt] += lost
	}
	r.pos = p
	r.gen++
}

// readSegment decodes records of segment pos.seg from pos.off up to limit.
// A record that fails its checksum returns errCorrupt when it is the first
// one; otherwise the events before it are returned and the next Read meets
// it first.
func (r *diskReader) readSegment(dst []Event, pos Position, limit int64, maxEvents, maxBytes int) ([]Event, Position, error) {
	if r.f == nil || r.fseg != pos.seg {
		r.closeFile()
		f, err := os.Open(segPath(r.s.dir, pos.seg))
		if err != nil {
			return dst, pos, err
		}
		r.f, r.fseg = f, pos.seg
	}
	// Read a chunk at a time, only as far as the batch needs: the segment
	// may hold far more than one batch, and reading it all for each batch
	// would read (and allocate) it many times over.
	start, size := len(dst), 0
	var buf []byte // what was read and not decoded yet: the file from pos.off on
	defer func() { r.chunks.taken(pos.Seq) }()
	for len(dst)-start < maxEvents && (size < maxBytes || len(dst) == start) && pos.off < limit {
		ev, n, err := readRecord(buf)
		if errors.Is(err, errShort) {
			want := min(limit-pos.off, int64(max(readChunk, n)))
			if int64(len(buf)) >= want {
				err = errShort // the record runs past the end of the written data
			} else {
				r.chunks.taken(pos.Seq)
				buf = r.chunks.get(int(want))
				if _, err := r.f.ReadAt(buf, pos.off); err != nil {
					if errors.Is(err, io.EOF) {
						err = errShort // the file is shorter than it should be
					}
					if len(dst) > start {
						break
					}
					return dst, pos, err
				}
				continue
			}
		}
		if err != nil {
			if len(dst) > start {
				break // return what was good; the next Read meets the error first
			}
			return dst, pos, err
		}
		dst = append(dst, ev)
		size += ev.size()
		buf = buf[n:]
		pos.Seq++
		pos.off += int64(n)
	}
	return dst, pos, nil
}

// Commit implements Reader: it persists pos as the sink's cursor, then lets
// the spool delete the segments every sink has committed. A failed save
// leaves the previous position saved, is counted and logged once, and does
// not stop reading: the next Commit saves a later position.
func (r *diskReader) Commit(pos Position) error {
	r.cmu.Lock()
	defer r.cmu.Unlock()
	s := r.s
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	stale := pos.Seq <= r.ack.Seq
	s.mu.Unlock()
	if stale {
		return nil
	}
	if err := r.save(pos); err != nil {
		return err
	}
	r.chunks.release(pos.Seq)
	s.mu.Lock()
	r.ack = pos
	i := 0
	for i < len(r.marks) && r.marks[i].seq < pos.Seq {
		i++
	}
	r.marks = r.marks[i:]
	s.collect()
	full := s.writeFail == DegradedDiskFull && s.allCommitted()
	s.mu.Unlock()
	if full {
		s.wmu.Lock()
		s.freeActive()
		s.wmu.Unlock()
	}
	return nil
}

// save persists pos as the sink's cursor, creating the file if need be,
// and keeps count of failures. cmu is held.
func (r *diskReader) save(pos Position) error {
	s := r.s
	var err error
	if r.cursor == nil {
		r.cursor, err = s.createCursor(r.name, pos)
	} else {
		err = s.saveCursor(r.cursor, pos)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err != nil:
		s.saveErr++
		s.lastErr = err.Error()
		if !r.saveFailing {
			s.log.Error("spool: cannot save a sink's position; delivery goes on, and a restart would send "+
				"again what was delivered since the last save", "sink", r.name, "err", err)
		}
		r.saveFailing = true
	case r.saveFailing:
		s.log.Info("spool: saving the sink's position again", "sink", r.name)
		r.saveFailing = false
	}
	return err
}

// closeCursor closes the cursor file once no Commit uses it.
func (r *diskReader) closeCursor() {
	r.cmu.Lock()
	defer r.cmu.Unlock()
	r.cursor.close()
	r.cursor = nil
}

// Stats implements Reader.
func (r *diskReader) Stats() ReaderStats {
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	st := ReaderStats{Dropped: map[string]uint64{}}
	for k, v := range r.dropped {
		st.Dropped[k] = v
	}
	oldest := s.segs[0]
	from := r.ack
	if from.Seq < oldest.start || s.segIndex(from.seg) < 0 {
		from = Position{Seq: oldest.start, seg: oldest.start, off: segHeaderSize}
	}
	if s.end.Seq <= from.Seq {
		return st
	}
	st.Pending = s.end.Seq - from.Seq
	i := s.segIndex(from.seg)
	st.Bytes = s.segs[i].size - from.off
	for _, sg := range s.segs[i+1:] {
		st.Bytes += sg.size
	}
	t := s.segs[i].created
	if len(r.marks) > 0 && r.marks[0].seq == from.Seq {
		t = r.marks[0].t
	}
	if !t.IsZero() {
		st.OldestAge = max(time.Since(t), 0)
	}
	return st
}
