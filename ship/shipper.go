package ship

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/nflog-agent/nflog-agent/internal/redact"
	"github.com/nflog-agent/nflog-agent/internal/setting"
	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// Options are what New needs besides the sink configurations.
type Options struct {
	Logger *slog.Logger // default: discard
	Stdout io.Writer    // the stdout sink's writer; default os.Stdout
}

// Shipper runs every configured sink, each reading the queue through its
// own cursor. Its methods are safe for concurrent use.
type Shipper struct {
	q       spool.Queue
	log     *slog.Logger
	runners []*runner
	closers []io.Closer

	mu      sync.Mutex
	started bool
}

// DefaultSinks is the configuration used when none is given: NDJSON events
// on stdout.
func DefaultSinks() []SinkConfig { return []SinkConfig{{Type: TypeStdout}} }

// New builds the sinks and opens their readers on q. It reads secrets and
// certificates now, so configuration errors surface before anything runs;
// nothing is sent until Start. A sink that cannot be built is a
// *SinkError. Settings that work but deserve a warning (disabled
// certificate verification) are the caller's to report.
func New(q spool.Queue, sinks []SinkConfig, opts Options) (*Shipper, error) {
	return build(q, sinks, opts, true)
}

// Check builds every sink as New does (settings, names, secrets, CA and
// client certificates), on a throw-away queue, but opens no file and sends
// nothing: New then fails only on what changed in between, or on a file
// sink's file that cannot be opened.
func Check(sinks []SinkConfig) error {
	s, err := build(spool.NewMemory(0, 0, spool.Drop), sinks, Options{}, false)
	if err != nil {
		return err
	}
	s.closeSinks()
	return nil
}

// build is New; without openFiles, file sinks do not open their files.
func build(q spool.Queue, sinks []SinkConfig, opts Options, openFiles bool) (*Shipper, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	s := &Shipper{q: q, log: opts.Logger}
	names := map[string]bool{}
	for i, raw := range sinks {
		c, err := raw.withDefaults()
		if err != nil {
			s.closeSinks()
			return nil, err
		}
		fail := func(err error) (*Shipper, error) {
			s.closeSinks()
			return nil, &SinkError{Index: i, Name: c.Name, Err: err}
		}
		if names[c.Name] {
			s.closeSinks()
			return nil, fmt.Errorf("ship: two sinks are named %q: give each a name", c.Name)
		}
		names[c.Name] = true
		st, red := newCounters(), &redact.Secrets{}
		sink, err := buildSink(&c, red, st, opts.Stdout, openFiles)
		if err != nil {
			return fail(err)
		}
		if cl, ok := sink.(io.Closer); ok {
			s.closers = append(s.closers, cl)
		}
		r, err := q.Reader(c.Name)
		if err != nil {
			return fail(&setting.Error{Key: "name", Err: err})
		}
		s.runners = append(s.runners, newRunner(c, sink, r, s.log, st, red))
	}
	return s, nil
}

func buildSink(c *SinkConfig, red *redact.Secrets, st *counters, stdout io.Writer, openFiles bool) (sink, error) {
	switch c.Type {
	case TypeStdout:
		return newWriterSink(stdout), nil
	case TypeFile:
		if !openFiles {
			return &fileSink{path: c.Path}, nil
		}
		f, err := newFileSink(c.Path)
		if err != nil {
			return nil, &setting.Error{Key: "path", Err: err}
		}
		return f, nil
	case TypeHTTP:
		return newHTTPSink(c, red, st)
	case TypeElasticsearch:
		return newElasticSink(c, red, st)
	case TypeSekoia:
		if c.Transport != TransportHTTPS {
			return newSekoiaSyslogSink(c, red, st)
		}
		return newSekoiaSink(c, red, st)
	case TypeSyslog:
		return newSyslogSink(c, st)
	}
	return nil, fmt.Errorf("unknown type %q", c.Type) // withDefaults rejects it first
}

// Start starts every sink's runner.
func (s *Shipper) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return
	}
	s.started = true
	for _, r := range s.runners {
		r.start()
		s.log.Info("sink started", "sink", r.cfg.Name, "type", r.cfg.Type, "concurrency", r.cfg.Concurrency,
			"batch_events", r.cfg.Batch.MaxEvents, "batch_bytes", r.cfg.Batch.MaxBytes, "batch_age", r.cfg.Batch.MaxAge)
	}
}

// Stats returns a snapshot of every sink's counters, in configuration order.
func (s *Shipper) Stats() []Stats {
	out := make([]Stats, 0, len(s.runners))
	for _, r := range s.runners {
		st := r.st.snapshot()
		st.Sink, st.Type = r.cfg.Name, r.cfg.Type
		rs := r.reader.Stats()
		st.Dropped, st.SpoolPending, st.SpoolBytes, st.SpoolOldestAge = rs.Dropped, rs.Pending, rs.Bytes, rs.OldestAge
		out = append(out, st)
	}
	return out
}

// Reopen makes file sinks reopen their files (after log rotation).
func (s *Shipper) Reopen() error {
	var errs []error
	for _, r := range s.runners {
		if ro, ok := r.sink.(reopener); ok {
			errs = append(errs, ro.Reopen())
		}
	}
	return errors.Join(errs...)
}

// Shutdown stops reading the queue, sends the batches being filled, and
// waits for the requests in flight until ctx is done; then it abandons them.
// Whatever was not delivered stays in the spool for the next start (a
// Memory queue counts it as dropped when closed). The queue itself is the
// caller's to close, after Shutdown.
func (s *Shipper) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	done := make(chan error, len(s.runners))
	for _, r := range s.runners {
		if !s.started {
			done <- nil
			continue
		}
		go func() { done <- r.shutdown(ctx) }()
	}
	for range s.runners {
		errs = append(errs, <-done)
	}
	s.closeSinks()
	return errors.Join(errs...)
}

func (s *Shipper) closeSinks() {
	for _, c := range s.closers {
		c.Close()
	}
	s.closers = nil
}
