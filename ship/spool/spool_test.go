package spool

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func openSpool(t *testing.T, dir string, opts Options) *Spool {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func reader(t *testing.T, q Queue, name string) Reader {
	t.Helper()
	r, err := q.Reader(name)
	if err != nil {
		t.Fatalf("Reader(%s): %v", name, err)
	}
	return r
}

func segFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSpoolCursorSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, Options{})
	r := reader(t, s, "es")
	appendRange(t, s, 0, 40)
	_, p, _ := r.Read(nil, 25, 1<<20)
	if err := r.Commit(p); err != nil {
		t.Fatal(err)
	}
	r.Read(nil, 10, 1<<20) // read but not committed: in flight at the "crash"
	s.Close()

	s = openSpool(t, dir, Options{})
	r = reader(t, s, "es")
	evs, _ := readAll(t, r, 100)
	checkEvents(t, evs, 25, 40)
	if got := r.Stats().Pending; got != 15 {
		t.Fatalf("pending after restart = %d, want 15", got)
	}
	// A sink the spool has not seen starts at the oldest event.
	evs, _ = readAll(t, reader(t, s, "new"), 100)
	checkEvents(t, evs, 0, 40)
}

func TestSpoolSegmentsRollAndAreCollected(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, Options{SegmentBytes: minSegmentBytes})
	a, b := reader(t, s, "a"), reader(t, s, "b")
	appendRange(t, s, 0, 3000) // ~100 bytes each: several segments
	if n := len(segFiles(t, dir)); n < 3 {
		t.Fatalf("%d segment files, want several", n)
	}
	evs, pa := readAll(t, a, 128)
	checkEvents(t, evs, 0, 3000)
	a.Commit(pa)
	if n := len(segFiles(t, dir)); n < 3 {
		t.Fatalf("segments deleted while b had not read them (%d left)", n)
	}
	evs, pb := readAll(t, b, 1000)
	checkEvents(t, evs, 0, 3000)
	b.Commit(pb)
	if n := len(segFiles(t, dir)); n != 1 {
		t.Fatalf("%d segment files after every reader committed, want 1 (the active one)", n)
	}
	if st := a.Stats(); st.Pending != 0 || st.Bytes != 0 {
		t.Fatalf("a stats: %+v", st)
	}
	// The cursors point into deleted files' successors; a restart resumes.
	s.Close()
	s = openSpool(t, dir, Options{SegmentBytes: minSegmentBytes})
	appendRange(t, s, 3000, 3010)
	evs, _ = readAll(t, reader(t, s, "a"), 100)
	checkEvents(t, evs, 3000, 3010)
}

func TestSpoolCapDropsOldestPerSink(t *testing.T) {
	dir := t.TempDir()
	opts := Options{MaxBytes: 4 * minSegmentBytes, SegmentBytes: minSegmentBytes}
	s := openSpool(t, dir, opts)
	fast, slow := reader(t, s, "fast"), reader(t, s, "slow")
	const total = 10000 // ~1 MB: far over the 256 KiB cap
	read := 0
	for i := 0; i < total; i += 500 {
		appendRange(t, s, i, i+500)
		evs, p := readAll(t, fast, 1000)
		read += len(evs)
		fast.Commit(p)
	}
	if read != total {
		t.Fatalf("fast read %d, want %d", read, total)
	}
	if d := fast.Stats().Dropped; d[DropCap] != 0 {
		t.Fatalf("fast dropped %v", d)
	}
	st := s.Stats()
	if st.Bytes > opts.MaxBytes+minSegmentBytes {
		t.Fatalf("spool holds %d bytes, cap %d", st.Bytes, opts.MaxBytes)
	}
	dropped := slow.Stats().Dropped[DropCap]
	evs, _ := readAll(t, slow, 1000)
	if dropped == 0 || dropped+uint64(len(evs)) != total {
		t.Fatalf("slow: dropped %d + read %d, want a total of %d with drops", dropped, len(evs), total)
	}
	checkEvents(t, evs, int(dropped), total) // the oldest went, in order
}

func TestSpoolCapWhileReadingASegment(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, Options{MaxBytes: 3 * minSegmentBytes, SegmentBytes: minSegmentBytes})
	r := reader(t, s, "r")
	appendRange(t, s, 0, 100)
	evs, p, _ := r.Read(nil, 10, 1<<20) // in flight from the first segment
	checkEvents(t, evs, 0, 10)
	appendRange(t, s, 100, 5000) // the first segment goes
	rest, _ := readAll(t, r, 1000)
	dropped := r.Stats().Dropped[DropCap]
	if 10+dropped+uint64(len(rest)) != 5000 {
		t.Fatalf("in flight 10 + dropped %d + read %d != 5000", dropped, len(rest))
	}
	checkEvents(t, rest, int(10+dropped), 5000)
	if err := r.Commit(p); err != nil { // committing a deleted segment's position is fine
		t.Fatal(err)
	}
}

func TestSpoolCapAtRestartCountsDrops(t *testing.T) {
	dir := t.TempDir()
	opts := Options{MaxBytes: 3 * minSegmentBytes, SegmentBytes: minSegmentBytes}
	s := openSpool(t, dir, opts)
	reader(t, s, "a")
	s.Close()
	// The sink is not configured during this run; its cursor stays at 0.
	s = openSpool(t, dir, opts)
	appendRange(t, s, 0, 5000)
	s.Close()
	s = openSpool(t, dir, opts)
	r := reader(t, s, "a")
	dropped := r.Stats().Dropped[DropCap]
	evs, _ := readAll(t, r, 1000)
	if dropped == 0 || dropped+uint64(len(evs)) != 5000 {
		t.Fatalf("dropped %d + read %d != 5000", dropped, len(evs))
	}
}

// tornCases damage the tail of the last segment the way a crash can.
var tornCases = []struct {
	name string
	harm func(t *testing.T, path string)
	// lost is how many of the 20 events the damage destroys.
	lost int
}{
	{"half-written record", func(t *testing.T, path string) {
		b := mustRead(t, path)
		os.WriteFile(path, append(b, appendRecord(nil, &Event{ID: []byte("x"), JSON: []byte("{}")})[:11]...), 0o600)
	}, 0},
	{"zeros after the end", func(t *testing.T, path string) {
		os.WriteFile(path, append(mustRead(t, path), make([]byte, 4096)...), 0o600)
	}, 0},
	{"last record cut", func(t *testing.T, path string) {
		b := mustRead(t, path)
		os.WriteFile(path, b[:len(b)-3], 0o600)
	}, 1},
	{"last record flipped", func(t *testing.T, path string) {
		b := mustRead(t, path)
		b[len(b)-2] ^= 0x40
		os.WriteFile(path, b, 0o600)
	}, 1},
	{"header torn", func(t *testing.T, path string) {
		os.WriteFile(path, segMagic[:5], 0o600)
	}, 20},
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSpoolTornTailIsCutAndCounted(t *testing.T) {
	for _, tc := range tornCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openSpool(t, dir, Options{})
			appendRange(t, s, 0, 20)
			s.Close()
			tc.harm(t, segFiles(t, dir)[0])

			var log bytes.Buffer
			s = openSpool(t, dir, Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
			st := s.Stats()
			if st.TornTails != 1 || st.TornBytes == 0 {
				t.Fatalf("torn tails %d, bytes %d; want 1 and some", st.TornTails, st.TornBytes)
			}
			if want := fmt.Sprintf("bytes=%d", st.TornBytes); !strings.Contains(log.String(), "torn tail") ||
				!strings.Contains(log.String(), want) {
				t.Fatalf("the cut is not logged with %s:\n%s", want, log.String())
			}
			r := reader(t, s, "r")
			evs, _ := readAll(t, r, 100)
			checkEvents(t, evs, 0, 20-tc.lost)
			// Appends continue on a record boundary with the next Seq.
			appendRange(t, s, 20-tc.lost, 30)
			evs, _ = readAll(t, r, 100)
			checkEvents(t, evs, 20-tc.lost, 30)
			s.Close()
			s = openSpool(t, dir, Options{})
			if st := s.Stats(); st.TornTails != 0 {
				t.Fatalf("repaired spool still torn: %+v", st)
			}
		})
	}
}

func TestSpoolCorruptRecordSkipsRestOfSegment(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, Options{SegmentBytes: minSegmentBytes})
	appendRange(t, s, 0, 2000)
	s.Close()
	files := segFiles(t, dir)
	if len(files) < 3 {
		t.Fatalf("want at least 3 segments, have %d", len(files))
	}
	// Flip one byte in the middle of the first (sealed) segment.
	b := mustRead(t, files[0])
	b[len(b)/2] ^= 0xff
	os.WriteFile(files[0], b, 0o600)

	s = openSpool(t, dir, Options{SegmentBytes: minSegmentBytes})
	r := reader(t, s, "r")
	evs, _ := readAll(t, r, 100)
	corrupt := r.Stats().Dropped[DropCorrupt]
	if corrupt == 0 || uint64(len(evs))+corrupt != 2000 {
		t.Fatalf("read %d + corrupt %d, want 2000 with some corrupt", len(evs), corrupt)
	}
	// What was read is exactly the events before the damage and the
	// segments after it.
	n := 0
	for n < len(evs) && string(evs[n].ID) == string(testEvent(n).ID) {
		n++
	}
	checkEvents(t, evs[:n], 0, n)
	checkEvents(t, evs[n:], n+int(corrupt), 2000)
}

func TestSpoolLargeRecord(t *testing.T) {
	s := openSpool(t, t.TempDir(), Options{})
	r := reader(t, s, "r")
	big := Event{ID: []byte("big"), JSON: []byte(`"` + strings.Repeat("x", 3*readChunk) + `"`)}
	if err := s.Append(testEvent(0), big, testEvent(2)); err != nil {
		t.Fatal(err)
	}
	evs, _ := readAll(t, r, 100)
	if len(evs) != 3 || string(evs[1].JSON) != string(big.JSON) {
		t.Fatalf("got %d events", len(evs))
	}
}

func TestSpoolDirectoryLock(t *testing.T) {
	dir := t.TempDir()
	openSpool(t, dir, Options{})
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrInUse) {
		t.Fatalf("second Open: %v, want ErrInUse", err)
	}
}

func TestSpoolCorruptCursorRestartsAtOldest(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, Options{})
	r := reader(t, s, "r")
	appendRange(t, s, 0, 10)
	_, p := readAll(t, r, 100)
	r.Commit(p)
	s.Close()
	os.WriteFile(cursorPath(dir, "r"), []byte("garbage"), 0o600)
	s = openSpool(t, dir, Options{})
	evs, _ := readAll(t, reader(t, s, "r"), 100)
	checkEvents(t, evs, 0, 10) // duplicates, never loss
	if got := s.Stats().CursorErrors; got != 1 {
		t.Fatalf("cursor errors = %d", got)
	}
}

func TestSpoolBadSinkName(t *testing.T) {
	s := openSpool(t, t.TempDir(), Options{})
	for _, name := range []string{"", "../x", "a/b", ".hidden", strings.Repeat("a", 65)} {
		if _, err := s.Reader(name); err == nil {
			t.Errorf("Reader(%q) accepted", name)
		}
	}
}

// fullDisk is a segment file whose writes fail with ENOSPC while full is set.
type fullDisk struct {
	*os.File
	full *bool
}

func (f fullDisk) Write(b []byte) (int, error) {
	if *f.full {
		// Like a real full disk: part of the data may land first.
		n, _ := f.File.Write(b[:len(b)/2])
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	return f.File.Write(b)
}

func TestSpoolDiskFullIsCountedNotFatal(t *testing.T) {
	dir := t.TempDir()
	full := false
	opts := Options{SegmentBytes: minSegmentBytes}
	opts.create = func(path string) (segFile, error) {
		f, err := createFile(path)
		if err != nil {
			return nil, err
		}
		return fullDisk{f.(*os.File), &full}, nil
	}
	os.RemoveAll(dir) // Open creates a fresh segment through opts.create
	s := openSpool(t, dir, opts)
	r := reader(t, s, "r")
	appendRange(t, s, 0, 10)
	full = true
	err := s.Append(testEvent(10), testEvent(11), testEvent(12))
	if !errors.Is(err, ErrDiskFull) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Append on a full disk: %v, want ErrDiskFull", err)
	}
	if st := s.Stats(); st.Lost[LostDiskFull] != 3 || st.AppendErrors != 1 {
		t.Fatalf("stats: %+v", st)
	}
	full = false
	// The lost events never got a Seq: the next ones follow 0..9.
	evs := []Event{testEvent(10), testEvent(11)}
	if err := s.Append(evs...); err != nil {
		t.Fatalf("Append after space came back: %v", err)
	}
	got, _ := readAll(t, r, 100)
	checkEvents(t, got, 0, 12)
	s.Close()
	// Nothing half-written was left behind.
	s = openSpool(t, dir, Options{SegmentBytes: minSegmentBytes})
	if st := s.Stats(); st.TornTails != 0 {
		t.Fatalf("torn tail after disk-full recovery: %+v", st)
	}
}

// A crash between creating a segment file and writing its header leaves an
// empty or header-short last segment. Opening the spool must repair it, so
// that the events appended afterwards are read back, not cut as corrupt.
func TestSpoolEmptyLastSegmentIsRepaired(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before int    // events in the spool before the crash
		file   []byte // what the crash left of the new segment
	}{
		{"empty first segment", 0, nil},
		{"empty segment after a sealed one", 20, nil},
		{"header cut short", 20, segMagic[:5]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.before > 0 {
				s := openSpool(t, dir, Options{})
				appendRange(t, s, 0, tc.before)
				s.Close()
			}
			os.MkdirAll(dir, 0o700)
			if err := os.WriteFile(segPath(dir, uint64(tc.before)), tc.file, 0o600); err != nil {
				t.Fatal(err)
			}
			s := openSpool(t, dir, Options{})
			appendRange(t, s, tc.before, tc.before+5)
			s.Close()

			s = openSpool(t, dir, Options{})
			r := reader(t, s, "r")
			evs, _ := readAll(t, r, 100)
			checkEvents(t, evs, 0, tc.before+5)
			if d := r.Stats().Dropped; len(d) != 0 {
				t.Fatalf("dropped %v", d)
			}
			if st := s.Stats(); st.TornTails != 0 {
				t.Fatalf("torn tail after the repair: %+v", st)
			}
		})
	}
}
