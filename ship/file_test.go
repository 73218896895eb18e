package ship

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nflog-agent/nflog-agent/ship/spool"
)

func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestFileSinkFollowsRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.ndjson")
	s, err := newFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs := testEvents(6)
	ctx := context.Background()
	if _, err := s.Send(ctx, evs[:2]); err != nil {
		t.Fatal(err)
	}
	// logrotate's default: rename, and the writer must notice by itself.
	os.Rename(path, path+".1")
	if _, err := s.Send(ctx, evs[2:4]); err != nil {
		t.Fatal(err)
	}
	// copytruncate-style setups or a postrotate hook call Reopen.
	os.Rename(path, path+".2")
	os.WriteFile(path, nil, 0o640)
	s.Reopen()
	if _, err := s.Send(ctx, evs[4:]); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string][]Event{path + ".1": evs[:2], path + ".2": evs[2:4], path: evs[4:]} {
		got := lines(t, file)
		if len(got) != len(want) {
			t.Fatalf("%s: %d lines, want %d", file, len(got), len(want))
		}
		for i, l := range got {
			if l != string(want[i].JSON) {
				t.Fatalf("%s line %d: %s", file, i, l)
			}
		}
	}
}

func TestFileSinkThroughShipper(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out", "events.ndjson")
	os.MkdirAll(filepath.Dir(path), 0o700)
	h := startShipper(t, nil, SinkConfig{Type: TypeFile, Path: path, Batch: smallBatch, Retry: fastRetry})
	h.append(testEvents(25))
	waitFor(t, "25 events written", func() bool { return h.s.Stats()[0].Sent == 25 })
	h.finalStats()
	if got := lines(t, path); len(got) != 25 || got[24] != string(testEvents(25)[24].JSON) {
		t.Fatalf("%d lines", len(got))
	}
}

// failingWriter fails its first n writes, like a full disk or closed pipe.
type failingWriter struct {
	n int
	bytes.Buffer
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n > 0 {
		w.n--
		return 0, errors.New("no space left on device")
	}
	return w.Buffer.Write(p)
}

func TestStdoutSinkRetriesWriteErrors(t *testing.T) {
	out := &failingWriter{n: 2}
	q := spool.NewMemory(0, 0, spool.Drop)
	h := &harness{t: t, q: q, logs: &logBuffer{}}
	var err error
	h.s, err = New(q, []SinkConfig{{Type: TypeStdout, Batch: BatchConfig{MaxEvents: 100, MaxAge: 1}, Retry: fastRetry}},
		Options{Stdout: out})
	if err != nil {
		t.Fatal(err)
	}
	h.s.Start()
	h.append(testEvents(3))
	waitFor(t, "3 events written", func() bool { return h.s.Stats()[0].Sent == 3 })
	st := h.finalStats()
	if st.SendErrors[errWrite] != 2 || !strings.Contains(st.LastError, "no space") {
		t.Fatalf("stats: %+v", st)
	}
	if got := strings.Count(out.String(), "\n"); got != 3 {
		t.Fatalf("%d lines written:\n%s", got, out.String())
	}
}

// A file sink on a named pipe starts without waiting for the pipe's
// reader; until a process reads the pipe each batch fails (and is sent
// again), then its lines arrive, and a pipe is not synced.
func TestFileSinkOnANamedPipe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.pipe")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := newFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs := []Event{{JSON: []byte(`{"n":1}`)}, {JSON: []byte(`{"n":2}`)}}
	if _, err := s.Send(context.Background(), evs); !errors.Is(err, errNoReader) {
		t.Fatalf("send with no reader: %v, want %v", err, errNoReader)
	}
	r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := s.Send(context.Background(), evs); err != nil {
		t.Fatalf("send once the pipe has a reader: %v", err)
	}
	got := make([]byte, 64)
	n, err := io.ReadAtLeast(r, got, len("{\"n\":1}\n{\"n\":2}\n"))
	if err != nil || string(got[:n]) != "{\"n\":1}\n{\"n\":2}\n" {
		t.Fatalf("read %q, %v", got[:n], err)
	}
}
