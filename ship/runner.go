package ship

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// runner drives one sink: a batching loop reads the sink's spool reader and
// hands batches to Concurrency workers, which deliver them and commit.
type runner struct {
	cfg    SinkConfig
	sink   Sink
	reader spool.Reader
	log    *slog.Logger
	st     *counters
	red    *redactor

	batches chan batch
	spare   chan []Event // delivered batches, for batchLoop to fill again
	commits *commitQueue
	stop    chan struct{}      // closed by Shutdown: read no more
	ctx     context.Context    // delivery; cancelled at the shutdown deadline
	cancel  context.CancelFunc // cancels ctx
	wg      sync.WaitGroup
	failing atomic.Bool // the last attempt failed: log recovery once
}

type batch struct {
	id     uint64
	events []Event
}

func newRunner(cfg SinkConfig, sink Sink, r spool.Reader, log *slog.Logger, st *counters, red *redactor) *runner {
	ctx, cancel := context.WithCancel(context.Background())
	rn := &runner{
		cfg: cfg, sink: sink, reader: r, log: log, st: st, red: red,
		batches: make(chan batch), spare: make(chan []Event, cfg.Concurrency+1), commits: newCommitQueue(r.Commit),
		stop: make(chan struct{}), ctx: ctx, cancel: cancel,
	}
	st.retrying = rn.unavailable
	return rn
}

func (r *runner) start() {
	r.wg.Add(1 + r.cfg.Concurrency)
	go r.batchLoop()
	for range r.cfg.Concurrency {
		go r.worker()
	}
}

// batchLoop fills batches from the reader and sends each one when it is full
// or MaxAge old. On stop it sends the partial batch and returns.
func (r *runner) batchLoop() {
	defer r.wg.Done()
	defer close(r.batches)
	b := r.cfg.Batch
	age := time.NewTimer(time.Hour)
	age.Stop()
	defer age.Stop()
	var (
		cur  []Event
		size int
		end  spool.Position
	)
	send := func() bool {
		id := r.commits.add(end)
		select {
		case r.batches <- batch{id: id, events: cur}:
		case <-r.ctx.Done():
			return false
		}
		cur, size = r.reuse(), 0
		age.Stop()
		return true
	}
	for {
		if len(cur) < b.MaxEvents && size < b.MaxBytes {
			n := len(cur)
			var err error
			var pos spool.Position
			cur, pos, err = r.reader.Read(cur, b.MaxEvents-len(cur), b.MaxBytes-size)
			if errors.Is(err, spool.ErrClosed) {
				return
			}
			if err != nil {
				r.log.Error("spool read failed", "sink", r.cfg.Name, "err", err)
				if !sleep(r.ctx, r.cfg.Retry.MaxBackoff) {
					return
				}
				continue
			}
			if len(cur) > n {
				for _, ev := range cur[n:] {
					size += len(ev.ID) + len(ev.Message) + len(ev.JSON)
				}
				end = pos
				if n == 0 {
					age.Reset(b.MaxAge)
				}
				continue
			}
		}
		if len(cur) >= b.MaxEvents || size >= b.MaxBytes {
			if !send() {
				return
			}
			continue
		}
		var ageC <-chan time.Time
		if len(cur) > 0 {
			ageC = age.C
		}
		select {
		case <-r.reader.Ready():
		case <-ageC:
			if !send() {
				return
			}
		case <-r.stop:
			if len(cur) > 0 {
				send()
			}
			return
		case <-r.ctx.Done():
			return
		}
	}
}

func (r *runner) worker() {
	defer r.wg.Done()
	for b := range r.batches {
		if err := r.deliver(r.ctx, b.events); err != nil {
			continue // shutting down: the batch stays in the spool
		}
		if err := r.commits.finish(b.id); err != nil && !errors.Is(err, spool.ErrClosed) {
			r.log.Error("commit spool position failed", "sink", r.cfg.Name, "err", err)
		}
		r.recycle(b.events)
	}
}

// recycle keeps a delivered batch's array for the next batch: at 100k
// events/s, growing a fresh one each time is a good part of the agent's
// garbage. The events are cleared so that the array holds on to nothing.
func (r *runner) recycle(events []Event) {
	clear(events)
	select {
	case r.spare <- events[:0]:
	default:
	}
}

// reuse returns an empty batch, recycled if there is one.
func (r *runner) reuse() []Event {
	select {
	case b := <-r.spare:
		return b
	default:
		return nil
	}
}

// deliver sends events until each one is delivered or given up on. It
// returns an error only when ctx ends first.
func (r *runner) deliver(ctx context.Context, events []Event) error {
	for attempt := 0; ; attempt++ {
		res, err := r.sink.Send(ctx, events)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var serr *StatusError
		switch {
		case err == nil:
			r.recovered()
			retry := r.account(events, res)
			if len(retry) == 0 {
				return nil
			}
			// Only the items the destination could not take now.
			events = retry
			r.st.retried.Add(1)
		case errors.Is(err, ErrTooLarge):
			r.recovered()
			if len(events) == 1 {
				r.st.failed.add(FailTooLarge, 1)
				r.log.Warn("event too large for the destination, dropped", "sink", r.cfg.Name, "err", err)
				return nil
			}
			h := len(events) / 2
			if err := r.deliver(ctx, events[:h]); err != nil {
				return err
			}
			return r.deliver(ctx, events[h:])
		case errors.As(err, &serr) && serr.Permanent():
			r.recovered()
			r.st.failed.add(FailRejected, uint64(len(events)))
			r.log.Error("request rejected, events dropped", "sink", r.cfg.Name, "events", len(events),
				"status", serr.Code, "body", serr.Body)
			return nil
		default:
			r.unavailable(err)
			r.st.retried.Add(1)
		}
		if !sleep(ctx, jitter(r.cfg.Retry.InitialBackoff, r.cfg.Retry.MaxBackoff, attempt)) {
			return ctx.Err()
		}
	}
}

// account counts a Result and returns the events to send again.
func (r *runner) account(events []Event, res Result) []Event {
	bad := len(res.Retry) + len(res.Rejected)
	r.st.sent.Add(uint64(len(events) - bad))
	r.st.duplicates.Add(uint64(res.Duplicates))
	for i, rej := range res.Rejected {
		r.st.failed.add(rej.Reason, 1)
		if i == 0 {
			r.log.Warn("events rejected by the destination", "sink", r.cfg.Name, "rejected", len(res.Rejected),
				"reason", rej.Reason, "first", r.red.redact(rej.Detail))
		}
	}
	if len(res.Retry) == 0 {
		return nil
	}
	retry := make([]Event, 0, len(res.Retry))
	for _, i := range res.Retry {
		retry = append(retry, events[i])
	}
	return retry
}

// unavailable records a failed attempt; the first of a series is logged.
// It is safe for concurrent use: the HTTP client calls it between retries.
func (r *runner) unavailable(err error) {
	msg := r.red.redact(err.Error())
	r.st.setLastErr(msg)
	if errors.As(err, new(writeError)) {
		r.st.sendErrors.add(errWrite, 1)
	}
	if !r.failing.Swap(true) {
		r.st.failingSince.Store(time.Now().UnixNano())
		args := []any{"sink", r.cfg.Name, "err", msg}
		if errKind(err) == errTLS {
			// Fail closed: nothing is sent until the operator fixes trust.
			args = append(args, "hint", "the server's certificate is not trusted or the handshake was refused: "+
				"check tls.ca_file, tls.server_name and the client certificate")
		}
		r.log.Warn("sink unavailable, events stay queued and are retried", args...)
	}
}

func (r *runner) recovered() {
	if r.failing.Swap(false) {
		r.st.failingSince.Store(0)
		r.log.Info("sink available again", "sink", r.cfg.Name)
	}
}

// shutdown stops reading, lets the batches in flight finish until ctx ends,
// then abandons them (they stay in the spool).
func (r *runner) shutdown(ctx context.Context) error {
	close(r.stop)
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		r.cancel()
		<-done
		err = fmt.Errorf("ship: sink %s: stopped before its batches in flight were delivered: %w", r.cfg.Name, ctx.Err())
	}
	r.cancel()
	return err
}
