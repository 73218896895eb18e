package spool

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// faults fails the spool operations named in it, through Options.afterIO.
type faults struct {
	mu   sync.Mutex
	fail map[string]error
}

func (f *faults) set(op string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail == nil {
		f.fail = map[string]error{}
	}
	if err == nil {
		delete(f.fail, op)
	} else {
		f.fail[op] = err
	}
}

func (f *faults) afterIO(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fail[op]
}

func TestSpoolFailedCursorSaveIsCountedAndDoesNotStopReading(t *testing.T) {
	dir := t.TempDir()
	var f faults
	var log bytes.Buffer
	opts := Options{SegmentBytes: minSegmentBytes, afterIO: f.afterIO, Logger: slog.New(slog.NewTextHandler(&log, nil))}
	s := openSpool(t, dir, opts)
	r := reader(t, s, "r")
	appendRange(t, s, 0, 2000) // several segments

	f.set("cursor.write", &os.PathError{Op: "write", Path: "cursor-r", Err: syscall.EIO})
	evs, p := readAll(t, r, 500)
	checkEvents(t, evs, 0, 2000)
	if err := r.Commit(p); err == nil {
		t.Fatal("Commit succeeded with failing writes")
	}
	st := s.Stats()
	if st.CursorSaveErrors != 1 || !slices.Equal(st.Degraded, []string{DegradedCursorSave}) || st.LastError == "" {
		t.Fatalf("stats after a failed save: %+v", st)
	}
	if st.Segments < 3 {
		t.Fatalf("segments deleted although the position was not saved: %d left", st.Segments)
	}
	// Reading goes on past the unsaved position; the failure is logged
	// once, not at every save.
	appendRange(t, s, 2000, 2010)
	evs, p = readAll(t, r, 500)
	checkEvents(t, evs, 2000, 2010)
	if err := r.Commit(p); err == nil {
		t.Fatal("Commit succeeded with failing writes")
	}
	if n := strings.Count(log.String(), "cannot save a sink's position"); n != 1 || s.Stats().CursorSaveErrors != 2 {
		t.Fatalf("%d log lines, %d errors counted:\n%s", n, s.Stats().CursorSaveErrors, log.String())
	}

	f.set("cursor.write", nil)
	if err := r.Commit(p); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); len(st.Degraded) != 0 || st.Segments != 1 {
		t.Fatalf("stats after a good save: %+v", st)
	}
	if !strings.Contains(log.String(), "saving the sink's position again") {
		t.Fatalf("the recovery is not logged:\n%s", log.String())
	}
	s.Close()
	s = openSpool(t, dir, opts)
	if evs, _ := readAll(t, reader(t, s, "r"), 100); len(evs) != 0 {
		t.Fatalf("%d events sent again after the good save", len(evs))
	}
}

// A save torn by a crash leaves the slot written before it.
func TestSpoolTornCursorSaveKeepsThePreviousPosition(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, Options{})
	r := reader(t, s, "r")
	appendRange(t, s, 0, 30)
	_, p, _ := r.Read(nil, 10, 1<<20)
	r.Commit(p)
	_, p, _ = r.Read(nil, 10, 1<<20)
	r.Commit(p) // generation 3, in slot 1
	s.Close()
	b := mustRead(t, cursorPath(dir, "r"))
	b[cursorSlot+20] ^= 1
	os.WriteFile(cursorPath(dir, "r"), b, 0o600)

	s = openSpool(t, dir, Options{})
	evs, _ := readAll(t, reader(t, s, "r"), 100)
	checkEvents(t, evs, 10, 30)
	if st := s.Stats(); st.CursorErrors != 0 {
		t.Fatalf("one good slot counted as a cursor error: %+v", st)
	}
}

func TestSpoolFailedRemovalIsRetried(t *testing.T) {
	dir := t.TempDir()
	var f faults
	s := openSpool(t, dir, Options{SegmentBytes: minSegmentBytes, afterIO: f.afterIO})
	r := reader(t, s, "r")
	appendRange(t, s, 0, 2000)
	_, p := readAll(t, r, 500)
	f.set("segment.remove", &os.PathError{Op: "remove", Err: syscall.EBUSY})
	r.Commit(p)
	// The hook reports a removal failed after it happened: what is checked
	// is the accounting, and that the retry clears it.
	st := s.Stats()
	if st.RemoveErrors < 2 || !slices.Equal(st.Degraded, []string{DegradedRemove}) || st.Segments != 1 {
		t.Fatalf("after failed removals: %+v", st)
	}
	f.set("segment.remove", nil)
	appendRange(t, s, 2000, 2001)
	evs, p := readAll(t, r, 500)
	checkEvents(t, evs, 2000, 2001)
	r.Commit(p)
	if n := len(segFiles(t, dir)); n != 1 || len(s.Stats().Degraded) != 0 {
		t.Fatalf("after the retry: %d files, %+v", n, s.Stats())
	}
}

// A crash after the active segment was deleted to make room, before its
// successor was created, leaves no segment: numbering resumes from the
// cursors, so that they stay valid.
func TestSpoolWithoutSegmentsResumesNumbering(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, Options{})
	r := reader(t, s, "r")
	appendRange(t, s, 0, 30)
	_, p := readAll(t, r, 100)
	r.Commit(p)
	s.Close()
	for _, f := range segFiles(t, dir) {
		os.Remove(f)
	}
	s = openSpool(t, dir, Options{})
	r = reader(t, s, "r")
	appendRange(t, s, 30, 40)
	evs, _ := readAll(t, r, 100)
	checkEvents(t, evs, 30, 40)
	if d := r.Stats().Dropped; len(d) != 0 {
		t.Fatalf("dropped %v", d)
	}
}

func TestSpoolCursorOfANewSinkOnAFullDisk(t *testing.T) {
	dir := t.TempDir()
	var f faults
	s := openSpool(t, dir, Options{afterIO: f.afterIO})
	appendRange(t, s, 0, 10)
	f.set("cursor.create", &os.PathError{Op: "write", Err: syscall.ENOSPC})
	r := reader(t, s, "r") // starts anyway
	evs, p := readAll(t, r, 100)
	checkEvents(t, evs, 0, 10)
	if err := r.Commit(p); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("Commit: %v, want ErrDiskFull", err)
	}
	f.set("cursor.create", nil)
	appendRange(t, s, 10, 12)
	_, p = readAll(t, r, 100)
	if err := r.Commit(p); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openSpool(t, dir, Options{})
	if evs, _ := readAll(t, reader(t, s, "r"), 100); len(evs) != 0 {
		t.Fatalf("%d events sent again", len(evs))
	}
}

// A spool whose first segment cannot be created (a full disk at start)
// opens anyway; appends fail, counted, until the disk takes the file.
func TestSpoolOpensWhenItsFirstSegmentCannotBeCreated(t *testing.T) {
	var f faults
	f.set("segment.create", &os.PathError{Op: "open", Err: syscall.ENOSPC})
	dir := t.TempDir()
	s := openSpool(t, dir, Options{afterIO: f.afterIO})
	r := reader(t, s, "r")
	if err := s.Append(testEvent(0)); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("Append: %v, want ErrDiskFull", err)
	}
	if st := s.Stats(); st.Lost[LostDiskFull] != 1 || !slices.Equal(st.Degraded, []string{DegradedDiskFull}) {
		t.Fatalf("stats: %+v", st)
	}
	f.set("segment.create", nil)
	appendRange(t, s, 0, 5)
	evs, _ := readAll(t, r, 100)
	checkEvents(t, evs, 0, 5)
	if st := s.Stats(); len(st.Degraded) != 0 {
		t.Fatalf("still degraded: %+v", st)
	}
}
