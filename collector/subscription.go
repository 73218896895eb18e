package collector

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	nflog "github.com/florianl/go-nflog/v2"
	"golang.org/x/sys/unix"
)

// subscription is one go-nflog socket bound to the group. A Group replaces
// its subscription when the socket breaks.
type subscription struct {
	g      *Group
	nf     *nflog.Nflog
	ctx    context.Context
	cancel context.CancelFunc
	seq    seqTracker // touched only by the hook, i.e. the receive goroutine

	// gate: the hook runs under the read lock; stop takes the write lock, so
	// once stop returns no hook is running and none will push a record.
	gate    sync.RWMutex
	stopped bool
	stopCh  chan struct{} // closed first in stop, to release a hook blocked on a full queue

	deadOnce sync.Once
	dead     chan struct{} // closed when the receive loop gave up on an error
	deadErr  error
}

// subscribe opens a socket in the group's namespace, sizes its receive
// buffer and binds the group. On failure nothing is left open.
func (g *Group) subscribe() (*subscription, error) {
	cfg := g.cfg
	nf, err := nflog.Open(&nflog.Config{
		NetNS:    g.netns,
		Group:    cfg.Group,
		Copymode: nflog.CopyPacket,
		Bufsize:  cfg.copyRange(),
		Flags:    nflog.FlagSeq, // sequence numbers: the only way to count kernel-side loss
		QThresh:  cfg.QueueThreshold,
		Timeout:  cfg.kernelTimeout(),
		Logger:   nflogLogger{g},
	})
	if err != nil {
		return nil, &GroupError{Group: cfg.Group, Op: "open netlink socket", Err: err}
	}
	// Size the buffer before binding so the first burst already has it.
	// mdlayher/socket tries SO_RCVBUFFORCE (ignores net.core.rmem_max) and
	// falls back to SO_RCVBUF.
	size := int(g.bufRequested.Load())
	if err := nf.Con.SetReadBuffer(size); err != nil {
		nf.Close()
		return nil, &GroupError{Group: cfg.Group, Op: fmt.Sprintf("set read buffer to %d bytes", size), Err: err}
	}
	g.noteReadBuffer(nf)

	ctx, cancel := context.WithCancel(context.Background())
	s := &subscription{g: g, nf: nf, ctx: ctx, cancel: cancel, stopCh: make(chan struct{}), dead: make(chan struct{})}
	if err := nf.RegisterWithErrorFunc(ctx, s.hook, s.onError); err != nil {
		// Cancel before Close: go-nflog v2.3.0's Close waits for a
		// goroutine that only ends when the context is done.
		cancel()
		nf.Close()
		return nil, bindError(cfg.Group, err)
	}
	return s, nil
}

// hook runs on go-nflog's receive goroutine for every message. It must stay
// cheap and never wait on anything but the queue (and only with Block).
func (s *subscription) hook(a nflog.Attribute) int {
	s.gate.RLock()
	defer s.gate.RUnlock()
	if s.stopped {
		return 1
	}
	g := s.g
	g.c.received.Add(1)
	if a.Seq != nil {
		if lost := s.seq.observe(*a.Seq); lost > 0 {
			g.c.kernelLost.Add(lost)
		}
	}
	g.push(toRecord(&a, g.cfg.Group, g.names, time.Now()), s.stopCh)
	return 0
}

// onError decides, for each receive error, whether go-nflog keeps reading
// (0) or ends its loop (1). ENOBUFS only says the kernel dropped a batch; the
// socket still works, so reading goes on. Anything else that is not our own
// shutdown means the socket is broken: returning 0 would make go-nflog spin
// on it, so the loop ends and the Group re-opens with backoff.
func (s *subscription) onError(err error) int {
	switch {
	case errors.Is(err, unix.ENOBUFS):
		s.g.c.enobufs.Add(1)
		s.g.grow(s.nf)
		return 0
	case s.ctx.Err() != nil:
		return 1
	case errors.Is(err, os.ErrDeadlineExceeded):
		// Only our own cancellation sets a deadline; be safe anyway.
		return 0
	}
	s.deadOnce.Do(func() {
		s.deadErr = &GroupError{Group: s.g.cfg.Group, Op: "receive", Err: err}
		close(s.dead)
	})
	return 1
}

// stop ends the subscription and returns once no hook can run any more. It
// never hangs: the context is cancelled before go-nflog's Close (§5.1 of the
// go-nflog notes), and a hook blocked on a full queue is released first.
func (s *subscription) stop() {
	close(s.stopCh)
	s.gate.Lock()
	s.stopped = true
	s.gate.Unlock()
	s.cancel()
	// Closing the socket destroys the kernel instance (NETLINK_URELEASE),
	// which frees the group for the next subscriber.
	_ = s.nf.Close()
}

// nflogLogger receives go-nflog's log calls. The only one that matters is a
// message that fails to parse, which go-nflog otherwise skips silently.
type nflogLogger struct{ g *Group }

func (l nflogLogger) Debugf(format string, args ...any) {
	if strings.HasPrefix(format, "Could not parse message") {
		l.g.c.decodeErrors.Add(1)
	}
}

func (l nflogLogger) Errorf(format string, args ...any) {
	// go-nflog logs two errors on every normal shutdown (context canceled,
	// unbind on a closed socket); real receive errors reach onError.
	l.g.log.Debug("go-nflog: "+fmt.Sprintf(format, args...), "group", l.g.cfg.Group)
}
