package ship

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nflog-agent/nflog-agent/internal/redact"
	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// runner drives one sink: a batching loop reads the sink's spool reader and
// hands batches to Concurrency workers, which deliver them and commit.
type runner struct {
	cfg    SinkConfig
	sink   sink
	reader spool.Reader
	log    *slog.Logger
	st     *counters
	red    *redact.Secrets

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

func newRunner(cfg SinkConfig, out sink, r spool.Reader, log *slog.Logger, st *counters, red *redact.Secrets) *runner {
	ctx, cancel := context.WithCancel(context.Background())
	rn := &runner{
		cfg: cfg, sink: out, reader: r, log: log, st: st, red: red,
		batches: make(chan batch), spare: make(chan []Event, cfg.Concurrency+1), commits: newCommitQueue(r.Commit),
		stop: make(chan struct{}), ctx: ctx, cancel: cancel,
	}
	st.retrying = func(err error) { rn.unavailable(err, "") }
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
// returns an error only when ctx ends first. One retry state spans every
// request made for the batch, splits included.
func (r *runner) deliver(ctx context.Context, events []Event) error {
	rs := &retryState{policy: r.cfg.Retry}
	return r.send(withRetryState(ctx, rs), rs, events)
}

func (r *runner) send(ctx context.Context, rs *retryState, events []Event) error {
	for {
		res, err := r.sink.Send(ctx, events)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var serr *statusError
		blocked := ""
		switch {
		case err == nil:
			r.recovered()
			retry := r.account(events, res)
			if len(retry) == 0 {
				return nil
			}
			// Only the items the destination could not take now.
			events = retry
		case errors.Is(err, errUnauthorized):
			blocked = BlockAuth
		case errors.Is(err, errRedirected):
			blocked = BlockRedirect
		case errors.Is(err, errTooLarge):
			r.recovered()
			if len(events) == 1 {
				r.st.failed.add(FailTooLarge, 1)
				r.log.Warn("event too large for the destination, dropped", "sink", r.cfg.Name,
					"event_id", Printable(string(events[0].ID), maxQuoted), "err", err)
				return nil
			}
			return r.split(ctx, rs, events)
		case errors.As(err, &serr) && serr.Refused():
			r.recovered()
			if len(events) == 1 {
				r.st.failed.add(FailRejected, 1)
				r.log.Warn("event refused by the destination, dropped", "sink", r.cfg.Name,
					"event_id", Printable(string(events[0].ID), maxQuoted), "status", serr.Code, "answer", serr.Body)
				return nil
			}
			return r.split(ctx, rs, events)
		}
		if err != nil {
			r.unavailable(err, blocked)
		}
		if !rs.unwaited {
			// A failure no HTTP attempt recorded: a write error, an
			// unreadable answer, items to send again.
			rs.failed(nil)
		}
		r.st.retried.Add(1)
		if !sleep(ctx, rs.wait(blocked != "")) {
			return ctx.Err()
		}
	}
}

// split sends each half of events on its own: a destination that refuses
// a batch for some of its events takes the others.
func (r *runner) split(ctx context.Context, rs *retryState, events []Event) error {
	h := len(events) / 2
	if err := r.send(ctx, rs, events[:h]); err != nil {
		return err
	}
	return r.send(ctx, rs, events[h:])
}

// account counts a result and returns the events to send again.
func (r *runner) account(events []Event, res result) []Event {
	bad := len(res.Retry) + len(res.Rejected)
	r.st.sent.Add(uint64(len(events) - bad))
	r.st.duplicates.Add(uint64(res.Duplicates))
	for i, rej := range res.Rejected {
		r.st.failed.add(rej.Reason, 1)
		if i == 0 {
			r.log.Warn("events rejected by the destination", "sink", r.cfg.Name, "rejected", len(res.Rejected),
				"reason", rej.Reason, "first", Printable(r.red.Redact(rej.Detail), maxQuoted))
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

// unavailable records a failed attempt, blocked for a Block* reason or
// not; the first of a series is logged, and so is each change of reason.
// It is safe for concurrent use: the HTTP client calls it between retries.
func (r *runner) unavailable(err error, blocked string) {
	msg := Printable(r.red.Redact(err.Error()), 2*maxQuoted)
	r.st.setLastErr(msg)
	if errors.As(err, new(writeError)) {
		r.st.sendErrors.add(errWrite, 1)
	}
	wasFailing := r.failing.Swap(true)
	if !wasFailing {
		r.st.failingSince.Store(time.Now().UnixNano())
	}
	if prev := r.st.setBlocked(blocked); blocked != "" && blocked != prev {
		r.log.Error("sink blocked, events stay queued and are retried every max_backoff until fixed",
			"sink", r.cfg.Name, "reason", blocked, "err", msg, "fix", r.blockedFix(err, blocked))
		return
	}
	if blocked == "" && !wasFailing {
		args := []any{"sink", r.cfg.Name, "err", msg}
		if errKind(err) == errTLS {
			// Fail closed: nothing is sent until the operator fixes trust.
			args = append(args, "hint", "the server's certificate is not trusted or the handshake was refused: "+
				"check tls.ca_file, tls.server_name and the client certificate")
		}
		r.log.Warn("sink unavailable, events stay queued and are retried", args...)
	}
}

// blockedFix says what the operator can do about a blocked sink.
func (r *runner) blockedFix(err error, reason string) string {
	if reason == BlockRedirect {
		return "the agent never follows redirects (they could carry the credentials elsewhere): " +
			"set the sink's url to the address that takes the events"
	}
	var serr *statusError
	switch {
	case errors.As(err, &serr) && serr.Code == http.StatusProxyAuthRequired:
		return "the proxy refused its credentials: check the user and password in HTTPS_PROXY"
	case serr != nil && serr.Code == http.StatusNotFound:
		return "nothing answers at this url: check the sink's region or url"
	}
	restart := "; the agent reads it at start: restart it after a change"
	switch r.cfg.Type {
	case TypeElasticsearch:
		return "check the key in api_key_file or api_key_env (or the password in password_file or password_env): " +
			"it may be wrong, revoked or expired, or lack the create_doc privilege on the data stream; " +
			"a file must be readable by the agent's user" + restart + "; a 403 may also be the cluster refusing writes " +
			"(read-only index, disk flood stage): the answer says which"
	case TypeSekoia:
		return "check the intake key in intake_key_file or intake_key_env: it may be wrong, or its intake " +
			"deleted; a file must be readable by the agent's user" + restart
	}
	return "check the credentials in the sink's headers" + restart
}

func (r *runner) recovered() {
	r.st.setBlocked("")
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
