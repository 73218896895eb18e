package spool

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
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
	// Logger receives what the spool repairs and what fails (default:
	// discard). Each failure is logged when it starts and when it ends, not
	// at every attempt.
	Logger *slog.Logger

	// create opens a new segment file; tests replace it to fail writes.
	create func(path string) (segFile, error)
	// afterIO, when set, is called after each write, sync, rename,
	// truncate and removal the spool makes, with the operation's name; an
	// error it returns is the operation's. Tests use it to fail operations
	// and to kill the process at chosen points.
	afterIO func(op string) error
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

// Reasons a Spool is degraded, as used in Stats.Degraded.
const (
	DegradedDiskFull   = LostDiskFull    // the last append failed: no space left
	DegradedWriteError = LostWriteError  // the last append failed otherwise
	DegradedCursorSave = "cursor_save"   // a sink's last position save failed
	DegradedRemove     = "remove_failed" // a delivered segment could not be deleted yet
)

// Spool is the on-disk Queue. It is safe for concurrent use.
type Spool struct {
	dir  string
	opts Options
	lock *os.File // holds the directory's flock for the spool's lifetime

	log *slog.Logger

	wmu    sync.Mutex // serialises appends and segment rolls
	w      segFile    // the active (last) segment; nil until its file is created
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
	saveErr   uint64
	removeErr uint64
	writeFail string   // the Degraded reason of the last append, "" when it worked
	lastErr   string   // the last write, save or removal error
	unremoved []uint64 // segments deleted from the list whose file removal failed
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
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: create %s: %w", dir, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Spool{dir: dir, opts: opts, log: opts.Logger.With("spool", dir), lock: lock,
		readers: map[string]*diskReader{}, lost: map[string]uint64{}}
	if err := s.recover(); err != nil {
		lock.Close()
		return nil, err
	}
	return s, nil
}

// createFile creates a segment file. An existing file is emptied: it can
// only be one whose header a failed or interrupted creation left, since a
// segment file is named after its first record and never created twice.
func createFile(path string) (segFile, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
}

// after passes the outcome of operation op through the test hook.
func (s *Spool) after(op string, err error) error {
	if err == nil && s.opts.afterIO != nil {
		return s.opts.afterIO(op)
	}
	return err
}

func (s *Spool) durable() bool { return s.opts.Sync == SyncBatch }

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
		// A new spool, or one whose every segment was delivered and
		// deleted: numbering goes on from the sinks' positions, so that
		// they stay valid.
		if err := s.startSegment(maxCursorSeq(s.dir)); err != nil {
			s.log.Warn("spool: cannot create a segment yet; appends will try again", "err", err)
		}
		return nil
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
		s.log.Warn("spool: cut a torn tail off the last segment (the agent or the host stopped while appending)",
			"segment", path, "bytes", last.size-res.valid, "records_kept", res.records)
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
	if err := s.after("segment.truncate", f.Truncate(res.valid)); err != nil {
		return err
	}
	if res.valid == 0 {
		if _, err := f.WriteAt(segHeader(time.Now()), 0); s.after("segment.header", err) != nil {
			return err
		}
	}
	return s.after("segment.sync", f.Sync())
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

// startSegment makes a new segment, whose first record will be seq, the
// active one, and creates its file. When the file cannot be created the
// segment stays active without one (s.w is nil) and the next write tries
// again; should the agent stop meanwhile, nothing is lost, since the
// segment holds no record yet. The caller holds wmu (or is Open).
func (s *Spool) startSegment(seq uint64) error {
	s.mu.Lock()
	s.segs = append(s.segs, &segment{start: seq, size: segHeaderSize, created: time.Now()})
	s.end = Position{Seq: seq, seg: seq, off: segHeaderSize}
	s.mu.Unlock()
	s.w, s.broken = nil, false
	return s.createActive()
}

// createActive creates the file of the active segment, which holds no
// record yet. The caller holds wmu (or is Open).
func (s *Spool) createActive() error {
	s.mu.Lock()
	sg := s.segs[len(s.segs)-1]
	s.mu.Unlock()
	path := segPath(s.dir, sg.start)
	f, err := s.opts.create(path)
	if err != nil {
		return fmt.Errorf("spool: create segment: %w", diskErr(err))
	}
	err = s.after("segment.create", nil)
	if err == nil {
		_, err = f.Write(segHeader(sg.created))
		err = s.after("segment.header", err)
	}
	if err == nil {
		err = s.after("segment.sync", f.Sync())
	}
	if err == nil {
		err = s.after("dir.sync", syncDir(s.dir))
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("spool: create segment: %w", diskErr(err))
	}
	s.w = f
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
		s.failed(lostReason(err), n, err)
		return err
	}
	s.mu.Lock()
	if s.writeFail != "" {
		s.log.Info("spool: appending again", "lost_meanwhile", s.lost[LostDiskFull]+s.lost[LostWriteError])
		s.writeFail = ""
	}
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
	s.mu.Unlock()
}

// failed counts the n events of an Append that failed with err; the first
// failure of a series is logged.
func (s *Spool) failed(reason string, n uint64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lost[reason] += n
	s.appendErr++
	s.lastErr = err.Error()
	if s.writeFail == "" {
		s.log.Error("spool: cannot append, new events are lost (counted) until it works again", "err", err)
	}
	s.writeFail = reason
}

// write writes s.buf (n records) to the active segment. On a full disk,
// when every sink has committed all there is, it frees the active segment
// and tries once more. The caller holds wmu.
func (s *Spool) write(n uint64) error {
	err := s.tryWrite()
	if errors.Is(err, ErrDiskFull) && s.freeActive() {
		err = s.tryWrite()
	}
	if err != nil {
		return fmt.Errorf("spool: append %d events: %w", n, err)
	}
	return nil
}

// tryWrite writes s.buf to the active segment, first starting a new one
// when the active segment is full or may hold garbage. The caller holds
// wmu.
func (s *Spool) tryWrite() error {
	s.mu.Lock()
	end := s.end
	s.mu.Unlock()
	switch {
	case s.w == nil:
		if err := s.createActive(); err != nil {
			return err
		}
	case s.broken || (end.off > segHeaderSize && end.off+int64(len(s.buf)) > s.opts.SegmentBytes):
		if err := s.seal(); err != nil {
			return err
		}
		end.off = segHeaderSize
	}
	_, err := s.w.Write(s.buf)
	err = s.after("segment.write", err)
	if err == nil && s.durable() {
		err = s.after("segment.sync", s.w.Sync())
	}
	if err != nil {
		// Cut what was written so the next record starts on a record
		// boundary; when even that fails, the next Append starts a new
		// segment and readers will see this one end at its valid size.
		if terr := s.after("segment.truncate", s.w.Truncate(end.off)); terr != nil {
			s.broken = true
		}
		return diskErr(err)
	}
	return nil
}

// seal closes the active segment and starts the next one.
func (s *Spool) seal() error {
	if !s.broken {
		if err := s.after("segment.sync", s.w.Sync()); err != nil {
			return diskErr(err)
		}
	}
	s.w.Close()
	s.mu.Lock()
	seq := s.end.Seq
	s.mu.Unlock()
	return s.startSegment(seq)
}

// freeActive deletes the active segment when every sink has committed all
// of it, and starts an empty one in its place. Only a full disk calls for
// it: the active segment is otherwise sealed, and deleted once delivered,
// when it reaches SegmentBytes, which a trickle of events may take weeks to
// do. A crash between the deletion and the creation leaves no segment; the
// next Open resumes numbering from the sinks' cursors. It reports whether it
// freed anything. The caller holds wmu.
func (s *Spool) freeActive() bool {
	s.mu.Lock()
	if s.closed || s.end.off == segHeaderSize || !s.allCommitted() {
		s.mu.Unlock()
		return false
	}
	s.collect() // every sealed segment goes first
	old := s.segs[len(s.segs)-1]
	seq := s.end.Seq
	s.segs = []*segment{{start: seq, size: segHeaderSize, created: time.Now()}}
	s.end = Position{Seq: seq, seg: seq, off: segHeaderSize}
	readers := s.readerList()
	for _, r := range readers {
		r.pos, r.ack = s.end, s.end
		r.marks = nil
		r.gen++
	}
	s.removeSegment(old.start)
	s.mu.Unlock()
	for _, r := range readers {
		r.closeSegment(old.start, false) // or the file keeps its space
	}
	if s.w != nil {
		s.w.Close()
	}
	s.w, s.broken = nil, false
	err := s.createActive()
	if err == nil {
		s.mu.Lock()
		s.writeFail = "" // the disk took a write again
		s.mu.Unlock()
	}
	s.log.Info("spool: deleted the active segment, delivered to every sink, to make room on a full disk",
		"segment", segPath(s.dir, old.start), "bytes", old.size, "new_segment_err", err)
	return true
}

// allCommitted reports whether there are sinks and every one has committed
// every event. s.mu is held.
func (s *Spool) allCommitted() bool {
	for _, r := range s.readers {
		if r.ack.Seq < s.end.Seq {
			return false
		}
	}
	return len(s.readers) > 0
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
	s.removeSegment(sg.start)
	s.segs = s.segs[1:]
}

// removeSegment deletes the file of a segment no longer in the list. The
// file may still be open in a reader; on Linux that reader keeps its data
// until it closes the file, and its gen tells it to move on. A removal that
// fails is logged, and tried again at every commit. s.mu is held.
func (s *Spool) removeSegment(start uint64) {
	if err := s.remove(start); err != nil {
		s.removeErr++
		s.lastErr = err.Error()
		s.unremoved = append(s.unremoved, start)
		s.log.Warn("spool: cannot delete a delivered segment; trying again at every commit", "err", err)
	}
}

// retryRemovals deletes the files whose removal failed before. s.mu is held.
func (s *Spool) retryRemovals() {
	s.unremoved = slices.DeleteFunc(s.unremoved, func(start uint64) bool {
		if s.remove(start) != nil {
			return false
		}
		s.log.Info("spool: deleted a segment whose deletion had failed", "segment", segPath(s.dir, start))
		return true
	})
}

func (s *Spool) remove(start uint64) error {
	err := s.after("segment.remove", os.Remove(segPath(s.dir, start)))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// collect deletes the sealed segments every reader has committed. s.mu is
// held.
func (s *Spool) collect() {
	s.retryRemovals()
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
		CursorSaveErrors: s.saveErr, RemoveErrors: s.removeErr, LastError: s.lastErr,
	}
	if s.writeFail != "" {
		st.Degraded = append(st.Degraded, s.writeFail)
	}
	for _, r := range s.readers {
		if r.saveFailing {
			st.Degraded = append(st.Degraded, DegradedCursorSave)
			break
		}
	}
	if len(s.unremoved) > 0 {
		st.Degraded = append(st.Degraded, DegradedRemove)
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
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	readers := s.readerList()
	s.mu.Unlock()
	for _, r := range readers {
		r.closeCursor()
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	for _, r := range readers {
		r.closeSegment(0, true)
	}
	var err error
	if s.w != nil {
		err = s.w.Sync()
		if cerr := s.w.Close(); err == nil {
			err = cerr
		}
	}
	s.lock.Close() // releases the flock
	if err != nil {
		return fmt.Errorf("spool: close: %w", err)
	}
	return nil
}
