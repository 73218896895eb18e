package ship

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nflog-agent/nflog-agent/internal/testenv"
	"golang.org/x/sys/unix"
)

// checkNDJSON checks that out is exactly the documents of want, one line
// each.
func checkNDJSON(t *testing.T, out []byte, want []Event) {
	t.Helper()
	var b bytes.Buffer
	for _, ev := range want {
		b.Write(ev.JSON)
		b.WriteByte('\n')
	}
	if !bytes.Equal(out, b.Bytes()) {
		got := strings.Split(string(out), "\n")
		t.Fatalf("%d lines, want %d; output ends %q", len(got)-1, len(want), out[max(0, len(out)-80):])
	}
}

// fillingWriter takes room bytes, then fails, as a disk that fills up.
type fillingWriter struct {
	bytes.Buffer
	room int
}

func (w *fillingWriter) Write(p []byte) (int, error) {
	n := min(len(p), w.room)
	w.room -= n
	w.Buffer.Write(p[:n])
	if n < len(p) {
		return n, errors.New("no space left on device")
	}
	return n, nil
}

// A write that fails part way through a batch leaves the output on a line
// boundary for the next one: the line it stopped in is finished first,
// then the batch is written again. Wherever the failures fall (inside a
// document, between a document and its newline, on a line boundary,
// inside the rest of the line again), the output is whole lines: those
// written before the failure, then the batch, then the next.
func TestStdoutSinkFinishesTheLineAWriteFailedIn(t *testing.T) {
	evs := benchEvents()
	batch, next := evs[:20], evs[20:30]
	docLen := len(batch[0].JSON)
	for _, c := range []struct {
		name  string
		rooms []int // the room of each failing try, in turn
		lines int   // lines of the batch before the retried batch
	}{
		{"inside a document", []int{3*(docLen+1) + 100}, 4},
		{"before a newline", []int{3*(docLen+1) + docLen}, 4},
		{"on a line boundary", []int{3 * (docLen + 1)}, 3},
		{"inside the rest again", []int{3*(docLen+1) + 100, 50, 0}, 4},
		{"at once", []int{0}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if len(batch[0].JSON) != len(batch[3].JSON) {
				t.Fatal("the test needs documents of one length")
			}
			w := &fillingWriter{}
			s := newWriterSink(w)
			ctx := context.Background()
			for _, room := range c.rooms {
				w.room = room
				if _, err := s.Send(ctx, batch); err == nil {
					t.Fatal("the write did not fail")
				}
			}
			w.room = 1 << 30
			for _, b := range [][]Event{batch, next} {
				if _, err := s.Send(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			checkNDJSON(t, w.Bytes(), append(append(batch[:c.lines:c.lines], batch...), next...))
		})
	}
}

// The same on a real file descriptor, which the sinks write with writev: a
// tmpfs fills up in the middle of a batch (the kernel writes what fits,
// then fails), space comes back, and the retried batch follows a finished
// line. For stdout redirected to a file, and for the file sink.
func TestNDJSONSinksKeepLinesOnAFullDisk(t *testing.T) {
	evs := benchEvents()
	batch, next := evs[:100], evs[100:200]
	for _, kind := range []string{"stdout", "file"} {
		t.Run(kind, func(t *testing.T) {
			dir := testenv.Tmpfs(t, 320<<10)
			filler := filepath.Join(dir, "filler")
			if err := os.WriteFile(filler, make([]byte, 256<<10), 0o600); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "events.ndjson")
			s := ndjsonSinkTo(t, kind, path)
			ctx := context.Background()
			_, err := s.Send(ctx, batch)
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("the batch did not fill the disk: %v", err)
			}
			out, _ := os.ReadFile(path)
			lines := bytes.Count(out, []byte("\n"))
			if len(out) == 0 || out[len(out)-1] == '\n' || lines >= len(batch) {
				t.Fatalf("want the write to stop inside a line of the batch: %d bytes, %d lines", len(out), lines)
			}
			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
			for _, b := range [][]Event{batch, next} {
				if _, err := s.Send(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			out, _ = os.ReadFile(path)
			checkNDJSON(t, out, append(append(batch[:lines+1:lines+1], batch...), next...))
		})
	}
}

// Stdout may be a pipe. os.Pipe's are non-blocking: writev writes what the
// pipe takes and the sink waits for room, batch after batch, each one far
// larger than the pipe.
func TestStdoutSinkThroughAPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	read := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(r)
		read <- b
	}()
	evs := benchEvents()
	s := newWriterSink(w)
	var want []Event
	for range 8 {
		if _, err := s.Send(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
		want = append(want, evs...)
	}
	w.Close()
	checkNDJSON(t, <-read, want)
}

// Stdout may be a terminal, which takes a little at a time: the output
// arrives whole (the terminal turns each newline into CR LF).
func TestStdoutSinkToATerminal(t *testing.T) {
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		testenv.Skipf(t, "no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_WRONLY|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	evs := benchEvents()[:50]
	var want bytes.Buffer
	for _, ev := range evs {
		want.Write(ev.JSON)
		want.WriteString("\r\n")
	}
	read := make(chan []byte)
	go func() {
		b := make([]byte, want.Len())
		n, _ := io.ReadFull(ptmx, b)
		read <- b[:n]
	}()
	if _, err := newWriterSink(tty).Send(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if got := <-read; !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("the terminal got %d bytes, want %d", len(got), want.Len())
	}
}

// A pipe whose reader is gone fails the batch with EPIPE (the agent's own
// stdout would end it with SIGPIPE instead, as it ends any program).
func TestStdoutSinkBrokenPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r.Close()
	_, err = newWriterSink(w).Send(context.Background(), benchEvents())
	if !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("got %v, want EPIPE", err)
	}
}

// ndjsonSinkTo returns a sink of kind writing to path: "stdout" is the
// stdout sink with stdout redirected to the file (appending), "file" the
// file sink. The file is closed at the end of the test.
func ndjsonSinkTo(t testing.TB, kind, path string) sink {
	t.Helper()
	if kind == "file" {
		s, err := newFileSink(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return newWriterSink(f)
}
