package collector

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdlayher/netlink"

	"github.com/nflog-agent/nflog-agent/collector/ctmirror"
	"github.com/nflog-agent/nflog-agent/internal/refbuf"
)

// Backoff between attempts to re-open a broken socket.
const (
	reopenMin = 100 * time.Millisecond
	reopenMax = 10 * time.Second
)

// GroupOptions are the environment of a Group: where it listens and how it
// names interfaces and logs.
type GroupOptions struct {
	NetNS  int          // network namespace fd; 0 = the caller's
	Names  Namer        // ifindex → name; nil leaves names empty
	Logger *slog.Logger // nil discards
	// Conntrack opens (or shares) the ctnetlink mirror of the namespace,
	// for a group asked for conntrack on a kernel that cannot attach it.
	Conntrack func() (*ctmirror.Mirror, error)
}

// Group is one NFLOG group subscription. It reads on its own goroutine,
// turns each message into a decode.Record and puts it on a bounded queue
// (Records), re-opening the socket with backoff if it breaks. Its methods are
// safe for concurrent use.
type Group struct {
	cfg   GroupConfig
	netns int
	names Namer
	log   *slog.Logger

	c            counters
	bufRequested atomic.Int64                 // last size asked of SO_RCVBUFFORCE; grows on ENOBUFS or half full
	current      atomic.Pointer[subscription] // for tests that break the socket
	bound        atomic.Bool                  // a socket is bound to the group and being read

	conntrack        ConntrackSource // decided by the first bind, kept by later ones
	conntrackRetried bool            // the bind was retried after EAGAIN
	opened           bool            // OpenGroup is done: the conntrack source is decided

	out     chan *Batch   // the reader's queue
	records chan *Batch   // Records: out, or the enrichment stage's output
	spare   chan *Batch   // recycled batches for the reader
	blocks  *refbuf.Pool  // free blocks for the reader
	done    chan struct{} // closed by Close
	stopped chan struct{} // closed once the reader is gone and out is closed
	once    sync.Once
}

// OpenGroup subscribes to one group and starts reading. A group that cannot
// be bound now (another listener, missing privilege) is an error here rather
// than a retry loop, so a misconfiguration is reported at start.
func OpenGroup(cfg GroupConfig, opts GroupOptions) (*Group, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, &GroupError{Group: cfg.Group, Op: "config", Err: err}
	}
	g := newGroup(cfg, opts)
	if cfg.Conntrack {
		g.conntrack = ConntrackKernel
	}
	g.bufRequested.Store(int64(cfg.ReadBuffer))
	sub, err := g.subscribe()
	if err != nil {
		return nil, err
	}
	if err := g.startConntrack(opts.Conntrack); err != nil {
		sub.stop()
		return nil, err
	}
	g.opened = true
	g.bound.Store(true)
	go g.supervise(sub)
	return g, nil
}

// newGroup returns a group with its queues, not yet reading.
func newGroup(cfg GroupConfig, opts GroupOptions) *Group {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Group{
		cfg:     cfg,
		netns:   opts.NetNS,
		names:   opts.Names,
		log:     log.With("group", cfg.Group),
		out:     make(chan *Batch, cfg.queueBatches()),
		spare:   make(chan *Batch, cfg.spareBatches()),
		blocks:  newBlockPool(),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	g.records = g.out
	return g
}

// Bound reports whether the group is being read right now: false while a
// broken socket is being re-opened and after Close. Health checks use it.
func (g *Group) Bound() bool { return g.bound.Load() }

// Records is the group's output queue: one Batch per datagram (one kernel
// batch, up to QueueThreshold packets), which the consumer should Recycle
// once done with it. It is closed after Close, once the reader has
// stopped; what is still queued stays readable.
func (g *Group) Records() <-chan *Batch { return g.records }

// ConntrackSource says where the group's records get their conntrack
// entries, as decided when it was opened.
func (g *Group) ConntrackSource() ConntrackSource { return g.conntrack }

// Config returns the effective configuration (defaults applied).
func (g *Group) Config() GroupConfig { return g.cfg }

// Stats returns a snapshot of the group's counters.
func (g *Group) Stats() Stats { return g.c.snapshot(g.cfg.Group, g.conntrack) }

// Close stops reading and closes Records. It does not wait for Records to be
// drained, and it never hangs.
func (g *Group) Close() error {
	g.once.Do(func() { close(g.done) })
	<-g.stopped
	return nil
}

// supervise owns the current subscription: it waits for shutdown or for the
// socket to break, and in the latter case re-opens it with exponential
// backoff so that a persistent failure cannot spin.
func (g *Group) supervise(sub *subscription) {
	defer close(g.stopped)
	defer close(g.out)
	defer g.bound.Store(false)
	for {
		g.current.Store(sub)
		select {
		case <-g.done:
			sub.stop()
			return
		case <-sub.dead:
		}
		g.bound.Store(false)
		g.log.Warn("NFLOG socket failed, re-opening", "err", sub.deadErr)
		sub.stop()
		sub = g.reopen()
		if sub == nil {
			return // closed while waiting
		}
		g.bound.Store(true)
	}
}

// reopen retries subscribe until it succeeds or the group is closed.
func (g *Group) reopen() *subscription {
	wait := reopenMin
	for {
		select {
		case <-g.done:
			return nil
		case <-time.After(wait):
		}
		sub, err := g.subscribe()
		if err == nil {
			g.c.reopens.Add(1)
			g.log.Info("NFLOG socket re-opened")
			return sub
		}
		g.log.Warn("re-opening NFLOG socket failed", "err", err, "retry_in", wait)
		wait = min(2*wait, reopenMax)
	}
}

// push hands a batch to the queue according to the overflow policy and
// reports whether it is queued. The records of a batch that does not fit
// are counted as dropped, and the batch is recycled.
func (g *Group) push(batch *Batch, stop <-chan struct{}) bool {
	if g.cfg.Overflow == Block {
		select {
		case g.out <- batch:
			return true
		case <-stop: // shutting down with a full queue
		}
	} else {
		select {
		case g.out <- batch:
			return true
		default:
		}
	}
	g.c.queueDropped.Add(uint64(len(batch.records)))
	g.Recycle(batch)
	return false
}

// canGrow reports whether the socket buffer is below its cap.
func (g *Group) canGrow() bool { return int(g.bufRequested.Load()) < g.cfg.ReadBufferMax }

// grow doubles the socket receive buffer, up to the cap, and logs why: after
// ENOBUFS, as ulogd2 does, or when a burst fills it. It runs on the receive
// goroutine.
func (g *Group) grow(c *netlink.Conn, why string) {
	if !g.canGrow() {
		return
	}
	next := min(2*int(g.bufRequested.Load()), g.cfg.ReadBufferMax)
	if err := c.SetReadBuffer(next); err != nil {
		g.log.Warn("growing NFLOG socket buffer failed", "bytes", next, "err", err)
		return
	}
	g.bufRequested.Store(int64(next))
	g.noteReadBuffer(c)
	g.log.Warn(why, "read_buffer", g.c.readBuffer.Load(), "read_buffer_max", g.cfg.ReadBufferMax)
}

// noteReadBuffer records the buffer size the kernel actually granted (it
// doubles the request to account for its bookkeeping).
func (g *Group) noteReadBuffer(c *netlink.Conn) {
	if n, err := c.ReadBuffer(); err == nil {
		g.c.readBuffer.Store(int64(n))
	}
}
