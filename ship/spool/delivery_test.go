package spool_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/ship"
	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// Position saves that fail do not stop a real sink: it delivers every
// event, the failures are counted and the spool says it is degraded; once
// saves work again, the degraded state clears.
func TestDeliveryGoesOnWhenPositionsCannotBeSaved(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	hook := func(op string) error {
		if op == "cursor.write" && failing.Load() {
			return &os.PathError{Op: "write", Path: "cursor-out", Err: syscall.EIO}
		}
		return nil
	}
	dir := t.TempDir()
	q, err := spool.Open(filepath.Join(dir, "spool"), spool.WithAfterIO(spool.Options{}, hook))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	out := filepath.Join(dir, "out.ndjson")
	sh, err := ship.New(q, []ship.SinkConfig{{Type: ship.TypeFile, Name: "out", Path: out,
		Batch: ship.BatchConfig{MaxEvents: 10, MaxAge: time.Millisecond}}}, ship.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sh.Start()
	defer sh.Shutdown(t.Context())

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s: %+v", what, q.Stats())
			}
		}
	}
	appendAndWait := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if err := q.Append(sweepEvent(i)); err != nil {
				t.Fatal(err)
			}
		}
		waitFor("the events delivered", func() bool {
			b, _ := os.ReadFile(out)
			return bytes.Count(b, []byte("\n")) == to
		})
	}
	appendAndWait(0, 100)
	st := q.Stats()
	if st.CursorSaveErrors == 0 || !slices.Equal(st.Degraded, []string{spool.DegradedCursorSave}) {
		t.Fatalf("with failing saves: %+v", st)
	}
	failing.Store(false)
	appendAndWait(100, 130)
	waitFor("saves to work again", func() bool { return len(q.Stats().Degraded) == 0 })
}
