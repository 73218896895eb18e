package spool

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/nflog-agent/nflog-agent/internal/testenv"
)

// bigEvent is event i with a 1.5 KiB document, so that a small file
// system fills after a few hundred.
func bigEvent(i int) Event {
	ev := testEvent(i)
	ev.JSON = fmt.Appendf(nil, `{"event":{"id":"id-%06d"},"pad":"%s"}`, i, bytes.Repeat([]byte("x"), 1500))
	return ev
}

// appendBig appends events [from, from+n) in one Append.
func appendBig(s *Spool, from, n int) error {
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = bigEvent(from + i)
	}
	return s.Append(evs...)
}

func checkBig(t *testing.T, evs []Event, ids []int) {
	t.Helper()
	if len(evs) != len(ids) {
		t.Fatalf("read %d events, want %d", len(evs), len(ids))
	}
	for k, ev := range evs {
		if want := bigEvent(ids[k]); !bytes.Equal(ev.JSON, want.JSON) {
			t.Fatalf("event %d is %s, want id-%06d", k, ev.ID, ids[k])
		}
	}
}

func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// On a real full file system: the appends that do not fit are counted
// exactly, the delivered events are freed although the active segment is
// far from full, appends work again as soon as there is room, and the
// spool reports itself degraded meanwhile.
func TestSpoolFullDiskNeverWedges(t *testing.T) {
	dir := filepath.Join(testenv.Tmpfs(t, 256<<10), "spool")
	s := openSpool(t, dir, Options{}) // 64 MiB segments: never sealed here
	r := reader(t, s, "r")
	emptyFree := freeBytes(t, dir)

	// Fill it: every Append of 4 events either stores all four or none.
	var stored []int
	next, failed := 0, 0
	for failed < 3 {
		err := appendBig(s, next, 4)
		switch {
		case err == nil:
			for i := range 4 {
				stored = append(stored, next+i)
			}
		case errors.Is(err, ErrDiskFull):
			failed++
		default:
			t.Fatal(err)
		}
		next += 4
	}
	st := s.Stats()
	if st.Appended != uint64(len(stored)) || st.Lost[LostDiskFull] != uint64(4*failed) ||
		!slices.Equal(st.Degraded, []string{DegradedDiskFull}) || len(stored) < 50 {
		t.Fatalf("after filling with %d stored: %+v", len(stored), st)
	}

	// The sink delivers everything: the space is freed at once.
	evs, p := readAll(t, r, 100)
	checkBig(t, evs, stored)
	if err := r.Commit(p); err != nil {
		t.Fatalf("Commit on a full disk: %v", err)
	}
	st = s.Stats()
	if st.Bytes != segHeaderSize || len(st.Degraded) != 0 || st.Lost[LostDiskFull] != uint64(4*failed) {
		t.Fatalf("after delivery: %+v", st)
	}
	if free := freeBytes(t, dir); free < emptyFree-8<<10 {
		t.Fatalf("%d bytes free after delivery, %d when empty", free, emptyFree)
	}

	// Events are taken again, and while the sink keeps up, a disk that
	// fills several times over loses nothing.
	for i := range 3 * len(stored) / 4 {
		if err := appendBig(s, next, 4); err != nil {
			t.Fatalf("append %d after space came back: %v", i, err)
		}
		evs, p := readAll(t, r, 100)
		checkBig(t, evs, []int{next, next + 1, next + 2, next + 3})
		r.Commit(p)
		next += 4
	}

	// Someone else fills the disk while the sink is behind: nothing can
	// be freed, so every event is lost, counted, until the space is back.
	if err := appendBig(s, next, 4); err != nil {
		t.Fatal(err)
	}
	pending := []int{next, next + 1, next + 2, next + 3}
	next += 4
	filler, err := os.Create(filepath.Join(filepath.Dir(dir), "filler"))
	if err != nil {
		t.Fatal(err)
	}
	for _, err = filler.Write(make([]byte, 4096)); err == nil; _, err = filler.Write(make([]byte, 4096)) {
	}
	filler.Close()
	lost := s.Stats().Lost[LostDiskFull]
	if err := appendBig(s, next, 4); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("append on a disk full of another file: %v", err)
	}
	if st := s.Stats(); st.Lost[LostDiskFull] != lost+4 || !slices.Equal(st.Degraded, []string{DegradedDiskFull}) {
		t.Fatalf("after the filler: %+v", st)
	}
	os.Remove(filler.Name())
	next += 4
	if err := appendBig(s, next, 4); err != nil {
		t.Fatalf("append after the filler went: %v", err)
	}
	evs, _ = readAll(t, r, 100)
	checkBig(t, evs, append(pending, next, next+1, next+2, next+3))
	if st := s.Stats(); len(st.Degraded) != 0 || st.Lost[LostDiskFull] != lost+4 {
		t.Fatalf("after the filler went: %+v", st)
	}

	s.Close()
	s = openSpool(t, dir, Options{})
	evs, _ = readAll(t, reader(t, s, "r"), 100)
	checkBig(t, evs, append(pending, next, next+1, next+2, next+3))
	if st := s.Stats(); st.TornTails != 0 {
		t.Fatalf("torn tail: %+v", st)
	}
}
