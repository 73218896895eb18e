package ship

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
)

// writerSink writes the events' ECS documents as NDJSON to a writer
// (stdout). Writes are serialised: batches never interleave.
type writerSink struct {
	mu sync.Mutex
	w  *lineWriter
}

func newWriterSink(w io.Writer) *writerSink {
	return &writerSink{w: newLineWriter(w)}
}

func (s *writerSink) Send(_ context.Context, events []Event) (result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.w.write(events); err != nil {
		return result{}, writeError{fmt.Errorf("write: %w", err)}
	}
	return result{}, nil
}

// writeError marks a local write failure, counted as a "write" send error.
type writeError struct{ error }

func (e writeError) Unwrap() error { return e.error }

// fileSink appends NDJSON to a file and syncs each batch, since the spool
// forgets a batch once it is written. The path may also name a named pipe
// or a device, which are written the same way but not synced. The file is reopened when Reopen is
// called or when the path no longer names the open file (logrotate moved
// it), so rotation needs no signal.
type fileSink struct {
	path   string
	mu     sync.Mutex
	f      *os.File
	w      *lineWriter
	sync   bool // f is a regular file: a pipe or a device cannot be synced
	reopen atomic.Bool
}

func newFileSink(path string) (*fileSink, error) {
	s := &fileSink{path: path}
	if err := s.open(); err != nil {
		if !errors.Is(err, errNoReader) {
			return nil, err
		}
		s.reopen.Store(true) // its reader may come later: each batch tries
	}
	return s, nil
}

// errNoReader is a named pipe that no process reads yet.
var errNoReader = errors.New("no process reads the named pipe yet")

// open opens the file for appending, creating it and its folder when
// missing. Its errors already name the path. A named pipe is opened
// without waiting for its reader, which would hold up the agent's start;
// writes to it still wait for room.
func (s *fileSink) open() error {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o750); err != nil {
		return err
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NONBLOCK, 0o640)
	if errors.Is(err, syscall.ENXIO) {
		return fmt.Errorf("open %s: %w", s.path, errNoReader)
	}
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	if s.f != nil {
		s.w.write(nil) // finish a line a failed write left, if it can
		s.f.Close()
	}
	s.f, s.sync = f, fi.Mode().IsRegular()
	s.w = newLineWriter(f)
	return nil
}

// Reopen makes the next batch go to a freshly opened file at the path.
func (s *fileSink) Reopen() error {
	s.reopen.Store(true)
	return nil
}

// moved says whether the path no longer names the open file.
func (s *fileSink) moved() bool {
	fi, err := os.Stat(s.path)
	if err != nil {
		return true
	}
	cur, err := s.f.Stat()
	if err != nil {
		return true
	}
	a, ok1 := fi.Sys().(*syscall.Stat_t)
	b, ok2 := cur.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && (a.Dev != b.Dev || a.Ino != b.Ino)
}

func (s *fileSink) Send(_ context.Context, events []Event) (result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reopen.Swap(false) || s.f == nil || s.moved() {
		if err := s.open(); err != nil {
			s.reopen.Store(true)
			return result{}, writeError{err}
		}
	}
	if err := s.w.write(events); err != nil {
		return result{}, writeError{fmt.Errorf("write %s: %w", s.path, err)}
	}
	if !s.sync {
		return result{}, nil
	}
	if err := s.f.Sync(); err != nil {
		return result{}, writeError{fmt.Errorf("sync %s: %w", s.path, err)}
	}
	return result{}, nil
}

func (s *fileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil // built by Check: never opened
	}
	return s.f.Close()
}
