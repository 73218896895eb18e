package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"
)

// SyncPolicy says when appended records are flushed to stable storage.
type SyncPolicy int

const (
	// SyncBatch fsyncs once per Append call: an event is on disk before
	// Append returns, whatever happens to the host. Pass events in batches.
	SyncBatch SyncPolicy = iota
	// SyncNone leaves flushing to the kernel, for segments and cursors
	// alike: the spool survives the agent being killed, but a power loss
	// may lose the last seconds or replay them.
	SyncNone
)

// Defaults for Options.
const (
	DefaultMaxBytes = 1 << 30
	maxSegmentBytes = 64 << 20
	minSegmentBytes = 64 << 10
)

// Options configure a Spool. The zero value is usable.
type Options struct {
	// MaxBytes caps the segment files (default DefaultMaxBytes). When an
	// Append goes past it, the oldest segments are deleted.
	MaxBytes int64
	// SegmentBytes is the size at which a new segment file is started
	// (default MaxBytes/8, at most 64 MiB): the cap drops a segment at a
	// time, so smaller segments drop fewer events at once.
	SegmentBytes int64
	Sync         SyncPolicy

	// create opens a new segment file; tests replace it to fail writes.
	create func(path string) (segFile, error)
}

// segFile is what the writer needs from the active segment file.
type segFile interface {
	Write([]byte) (int, error)
	Sync() error
	Truncate(int64) error
	Close() error
}

// Errors returned by Spool methods, for errors.Is.
var (
	ErrClosed   = errors.New("spool: closed")
	ErrDiskFull = errors.New("spool: disk full")
	ErrInUse    = errors.New("spool: directory in use by another process")
)

// Spool is the on-disk Queue. It is safe for concurrent use.
type Spool struct {
	dir  string
	opts Options
	lock *os.File // holds the directory's flock for the spool's lifetime

	wmu    sync.Mutex // serialises appends and segment rolls
	w      segFile    // the active (last) segment
	buf    []byte
	broken bool // a failed write may have left bytes after the valid end

	mu        sync.Mutex // guards everything below and the readers' state
	segs      []*segment // in order; the last one is active
	end       Position   // everything before it is written (and synced)
	readers   map[string]*diskReader
	closed    bool
	appended  uint64
	appendErr uint64
	lost      map[string]uint64
	tornTails uint64
	tornBytes uint64
	cursorErr uint64
}

// Open opens the spool in dir, creating it when needed. A torn or corrupt
// tail of the last segment, as a crash leaves it, is cut off and counted in
// Stats. Only one process may have a spool directory open.
func Open(dir string, opts Options) (*Spool, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = min(opts.MaxBytes/8, maxSegmentBytes)
	}
	opts.SegmentBytes = max(opts.SegmentBytes, minSegmentBytes)
	if opts.create == nil {
		opts.create = createFile
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: create %s: %w", dir, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Spool{dir: dir, opts: opts, lock: lock, readers: map[string]*diskReader{}, lost: map[string]uint64{}}
	if err := s.recover(); err != nil {
		lock.Close()
		return nil, err
	}
	return s, nil
}

func createFile(path string) (segFile, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
}

func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: lock %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrInUse, dir)
		}
		return nil, fmt.Errorf("spool: lock %s: %w", dir, err)
	}
	return f, nil
}

// recover loads the segment list, repairs the last segment and opens it for
// appending. Sealed segments are trusted as they are: a reader that meets a
// bad record in one skips the rest of it and counts what it skipped.
func (s *Spool) recover() error {
	segs, err := listSegments(s.dir)
	if err != nil {
		return err
	}
	if len(segs) == 0 {
		return s.startSegment(0)
	}
	last := segs[len(segs)-1]
	path := segPath(s.dir, last.start)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("spool: open %s: %w", path, err)
	}
	res, err := scanSegment(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("spool: scan %s: %w", path, err)
	}
	// valid == 0: not even a whole header, as when a crash came between
	// creating the file and writing its header.
	if res.bad || res.valid < last.size || res.valid == 0 {
		s.tornTails++
		s.tornBytes += uint64(last.size - res.valid)
		if err := s.cutTail(f, res); err != nil {
			f.Close()
			return fmt.Errorf("spool: repair %s: %w", path, err)
		}
		if res.valid == 0 {
			res.valid, res.created = segHeaderSize, time.Now()
		}
	}
	f.Close()
	// Reopen for appending: after a failed write the writer truncates, and
	// with O_APPEND the next write lands at the new end, not after a hole.
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("spool: open %s: %w", path, err)
	}
	last.size, last.created = res.valid, res.created
	for _, sg := range segs[:len(segs)-1] {
		s.fillCreated(sg)
	}
	s.segs, s.w = segs, w
	s.end = Position{Seq: last.start + res.records, seg: last.start, off: res.valid}
	return nil
}

// cutTail truncates the file to its valid records, rewriting the header when
// even that was torn.
func (s *Spool) cutTail(f *os.File, res scanResult) error {
	if err := f.Truncate(res.valid); err != nil {
		return err
	}
	if res.valid == 0 {
		if _, err := f.WriteAt(segHeader(time.Now()), 0); err != nil {
			return err
		}
	}
	return f.Sync()
}

// fillCreated reads the header of a sealed segment for its creation time;
// without one the file's modification time will do.
func (s *Spool) fillCreated(sg *segment) {
	path := segPath(s.dir, sg.start)
	if f, err := os.Open(path); err == nil {
		hdr := make([]byte, segHeaderSize)
		if _, err := f.ReadAt(hdr, 0); err == nil {
			sg.created, _ = parseSegHeader(hdr)
		}
		f.Close()
	}
	if sg.created.IsZero() {
		if info, err := os.Stat(path); err == nil {
			sg.created = info.ModTime()
		}
	}
}

// startSegment creates the segment whose first record will be seq and makes
// it the active one. The caller holds wmu (or is Open).
func (s *Spool) startSegment(seq uint64) error {
	path := segPath(s.dir, seq)
	created := time.Now()
	f, err := s.opts.create(path)
	if err != nil {
		return fmt.Errorf("spool: create segment: %w", diskErr(err))
	}
	_, err = f.Write(segHeader(created))
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = syncDir(s.dir)
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("spool: create segment: %w", diskErr(err))
	}
	s.mu.Lock()
	s.segs = append(s.segs, &segment{start: seq, size: segHeaderSize, created: created})
	s.end = Position{Seq: seq, seg: seq, off: segHeaderSize}
	s.mu.Unlock()
	s.w, s.broken = f, false
	return nil
}

// diskErr adds ErrDiskFull to an ENOSPC or EDQUOT error, so that callers
// can tell a full disk from a broken one.
func diskErr(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	}
	return err
}

// Append stores evs after the events already there, as one write and, with
// SyncBatch, one fsync. On error (a full disk, say) none of evs is stored,
// they are counted in Stats().Lost, and the spool stays usable: a later
// Append may succeed.
func (s *Spool) Append(evs ...Event) error {
	if len(evs) == 0 {
		return nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	s.buf = s.buf[:0]
	n := uint64(0)
	for i := range evs {
		if recordSize(&evs[i]) > frameHeader+maxPayload {
			s.count(LostTooLarge, 1)
			continue
		}
		s.buf = appendRecord(s.buf, &evs[i])
		n++
	}
	if n == 0 {
		return nil
	}
	if err := s.write(n); err != nil {
		s.count(lostReason(err), n)
		return err
	}
	s.mu.Lock()
	s.appended += n
	s.end.Seq += n
	s.end.off += int64(len(s.buf))
	s.segs[len(s.segs)-1].size = s.end.off
	s.enforceCap()
	readers := s.readerList()
	s.mu.Unlock()
	for _, r := range readers {
		r.notify()
	}
	if cap(s.buf) > 4<<20 {
		s.buf = nil // do not keep a huge batch's buffer forever
	}
	return nil
}

func lostReason(err error) string {
	if errors.Is(err, ErrDiskFull) {
		return LostDiskFull
	}
	return LostWriteError
}

func (s *Spool) count(reason string, n uint64) {
	s.mu.Lock()
	s.lost[reason] += n
	if reason != LostTooLarge {
		s.appendErr++
	}
	s.mu.Unlock()
}

// write writes s.buf (n records) to the active segment, first starting a new
// one when the active segment is full or may hold garbage. The caller holds
// wmu.
func (s *Spool) write(n uint64) error {
	s.mu.Lock()
	end := s.end
	s.mu.Unlock()
	if s.broken || (end.off > segHeaderSize && end.off+int64(len(s.buf)) > s.opts.SegmentBytes) {
		if err := s.seal(); err != nil {
			return fmt.Errorf("spool: append %d events: %w", n, err)
		}
		end.off = segHeaderSize
	}
	_, err := s.w.Write(s.buf)
	if err == nil && s.opts.Sync == SyncBatch {
		err = s.w.Sync()
	}
	if err != nil {
		// Cut what was written so the next record starts on a record
		// boundary; when even that fails, the next Append starts a new
		// segment and readers will see this one end at its valid size.
		if terr := s.w.Truncate(end.off); terr != nil {
			s.broken = true
		}
		return fmt.Errorf("spool: append %d events: %w", n, diskErr(err))
	}
	return nil
}

// seal closes the active segment and starts the next one.
func (s *Spool) seal() error {
	if !s.broken {
		if err := s.w.Sync(); err != nil {
			return diskErr(err)
		}
	}
	s.w.Close()
	s.mu.Lock()
	seq := s.end.Seq
	s.mu.Unlock()
	return s.startSegment(seq)
}

// enforceCap deletes the oldest segments while the spool is over its cap,
// counting for each reader the events it had not read yet. s.mu is held.
func (s *Spool) enforceCap() {
	total := int64(0)
	for _, sg := range s.segs {
		total += sg.size
	}
	for total > s.opts.MaxBytes && len(s.segs) > 1 {
		total -= s.segs[0].size
		s.dropOldest(DropCap)
	}
}

// dropOldest deletes the oldest (sealed) segment. Readers still inside it
// move to the next one; reason says why their unread events are dropped
// (empty: they had all been committed). s.mu is held.
func (s *Spool) dropOldest(reason string) {
	sg, next := s.segs[0], s.segs[1]
	for _, r := range s.readers {
		if r.pos.Seq < next.start || r.pos.seg == sg.start {
			if reason != "" && r.pos.Seq < next.start {
				r.dropped[reason] += next.start - max(r.pos.Seq, sg.start)
			}
			r.pos = Position{Seq: next.start, seg: next.start, off: segHeaderSize}
			r.gen++
		}
	}
	// The file may still be open in a reader; on Linux that reader keeps
	// its data until it closes the file, and its gen tells it to move on.
	os.Remove(segPath(s.dir, sg.start))
	s.segs = s.segs[1:]
}

// collect deletes the sealed segments every reader has committed. s.mu is
// held.
func (s *Spool) collect() {
	if len(s.readers) == 0 {
		return
	}
	low := s.end.Seq
	for _, r := range s.readers {
		low = min(low, r.ack.Seq)
	}
	for len(s.segs) > 1 && s.segs[1].start <= low {
		s.dropOldest("")
	}
}

func (s *Spool) readerList() []*diskReader {
	rs := make([]*diskReader, 0, len(s.readers))
	for _, r := range s.readers {
		rs = append(rs, r)
	}
	return rs
}

// segIndex returns the index of the segment starting at start, or -1.
func (s *Spool) segIndex(start uint64) int {
	i := sort.Search(len(s.segs), func(i int) bool { return s.segs[i].start >= start })
	if i < len(s.segs) && s.segs[i].start == start {
		return i
	}
	return -1
}

// Stats returns the spool-wide counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{
		Appended: s.appended, AppendErrors: s.appendErr, Lost: map[string]uint64{},
		Segments: len(s.segs), TornTails: s.tornTails, TornBytes: s.tornBytes, CursorErrors: s.cursorErr,
	}
	for k, v := range s.lost {
		st.Lost[k] = v
	}
	for _, sg := range s.segs {
		st.Bytes += sg.size
	}
	if len(s.segs) > 0 {
		st.Events = s.end.Seq - s.segs[0].start
	}
	return st
}

// Close syncs and closes the spool. Readers fail with ErrClosed after it;
// their cursors keep their last committed position.
func (s *Spool) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for _, r := range s.readers {
		r.closeFile()
	}
	s.mu.Unlock()
	err := s.w.Sync()
	if cerr := s.w.Close(); err == nil {
		err = cerr
	}
	s.lock.Close() // releases the flock
	if err != nil {
		return fmt.Errorf("spool: close: %w", err)
	}
	return nil
}
