package collector

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	nflog "github.com/florianl/go-nflog/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/nflog-agent/nflog-agent/collector/nflogmsg"
	"github.com/nflog-agent/nflog-agent/decode"
)

// subscription is one netlink socket bound to the group, and the goroutine
// that reads it. A Group replaces its subscription when the socket breaks.
//
// go-nflog opens the socket (in the group's namespace), but the group is
// bound and read here: go-nflog's receive loop allocates a dozen objects per
// message and two goroutines per datagram, which a profile at 100k events/s
// showed to be 40 % of the agent's CPU and most of its garbage. This loop
// reads each datagram once into a reused block and parses it in place.
type subscription struct {
	g      *Group
	nf     *nflog.Nflog
	conn   *netlink.Conn
	in     *datagramReader // used only by the read loop
	cursor readCursor      // likewise
	seq    seqTracker      // likewise
	msgs   nflogmsg.Parser // likewise
	// filled is when the read loop last asked the kernel how full the
	// socket is (growIfFilling); likewise.
	filled time.Time

	bindSeq    uint32     // netlink sequence number of the bind request
	bindResult chan error // its answer, from the read loop

	stopping atomic.Bool
	stopCh   chan struct{} // closed first in stop, to release a read loop blocked on a full queue
	done     chan struct{} // closed when the read loop has returned
	dead     chan struct{} // closed when the read loop gave up on an error
	deadErr  error         // why, a *GroupError; written before dead is closed
	stopOnce sync.Once
}

// subscribe opens a socket in the group's namespace, sizes its receive
// buffer, binds the group and starts reading. On failure nothing is left
// open.
func (g *Group) subscribe() (*subscription, error) {
	cfg := g.cfg
	nf, err := nflog.Open(&nflog.Config{NetNS: g.netns})
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
	g.noteReadBuffer(nf.Con)
	raw, err := nf.Con.SyscallConn()
	if err != nil {
		nf.Close()
		return nil, &GroupError{Group: cfg.Group, Op: "open netlink socket", Err: err}
	}
	if err := probe(nf.Con, cfg.Group); err != nil {
		nf.Close()
		return nil, err
	}
	s := &subscription{g: g, nf: nf, conn: nf.Con, in: newDatagramReader(raw), cursor: readCursor{pool: g.blocks},
		bindResult: make(chan error, 1), stopCh: make(chan struct{}), done: make(chan struct{}), dead: make(chan struct{})}
	// The group's packets may arrive before the kernel's answer to the bind
	// request, so the read loop starts first and hands the answer over.
	step := groupStep(cfg, g.conntrack == ConntrackKernel)
	req, err := nf.Con.Send(step.message())
	if err == nil {
		s.bindSeq = req.Header.Sequence
		go s.read()
		select {
		case err = <-s.bindResult:
		case <-s.dead:
			err = s.deadErr.(*GroupError).Err
		case <-time.After(bindTimeout):
			err = fmt.Errorf("no answer from the kernel within %s", bindTimeout)
		}
	}
	if err != nil {
		// Closing the socket destroys the kernel instance (NETLINK_URELEASE),
		// which frees the group for the next subscriber.
		s.stop()
		if g.kernelConntrackRefused(err) {
			return g.subscribe()
		}
		return nil, bindError(cfg.Group, step, err)
	}
	return s, nil
}

// bindTimeout bounds the wait for the kernel's answer to the bind request.
const bindTimeout = 5 * time.Second

// read is the reader goroutine: one datagram at a time, read into the free
// tail of the current block, each message parsed in place and the batch
// pushed to the queue.
func (s *subscription) read() {
	defer close(s.done)
	defer s.cursor.close()
	for {
		tail := s.cursor.tail()
		n, sender, err := s.in.read(tail)
		if sender != kernelPortID { // truncated or not, it is never parsed
			s.forged(sender)
			continue
		}
		if errors.Is(err, errTruncated) {
			s.g.c.decodeErrors.Add(1)
			s.g.log.Warn("NFLOG datagram larger than the read buffer: its messages are lost", "bytes", n)
			continue
		}
		if err != nil {
			if s.stopping.Load() {
				return
			}
			if errors.Is(err, unix.ENOBUFS) {
				// The kernel dropped messages; the socket still works. The
				// sequence gap counts them when the next message arrives.
				s.g.c.enobufs.Add(1)
				if s.g.grow(s.conn) {
					s.g.log.Warn("kernel dropped NFLOG messages (ENOBUFS), socket buffer grown",
						"read_buffer", s.g.c.readBuffer.Load(), "read_buffer_max", s.g.cfg.ReadBufferMax)
				}
				continue
			}
			s.deadErr = &GroupError{Group: s.g.cfg.Group, Op: "receive", Err: err}
			close(s.dead)
			return
		}
		now := time.Now()
		s.deliver(tail[:n:n], now)
		if s.g.canGrow() && now.Sub(s.filled) >= fillCheckEvery {
			s.filled = now
			s.growIfFilling()
		}
	}
}

// fillCheckEvery spaces the reader's questions about the socket's fill
// level: a syscall per datagram would cost most when datagrams are small,
// and a burst needs tens of milliseconds to fill half the buffer.
const fillCheckEvery = 10 * time.Millisecond

// growIfFilling grows the socket buffer when the kernel holds more than
// half of what it allows: a burst is outrunning the reader, and the larger
// buffer is better had before the kernel drops than after. (The limit only
// caps what a backlog may take; an empty socket holds nothing.)
func (s *subscription) growIfFilling() {
	held, limit, err := s.in.fill()
	if err != nil || held <= limit/2 {
		return
	}
	if s.g.grow(s.conn) {
		s.g.log.Info("NFLOG socket buffer more than half full (a burst), grown before the kernel drops",
			"read_buffer", s.g.c.readBuffer.Load(), "read_buffer_max", s.g.cfg.ReadBufferMax)
	}
}

// kernelPortID is the netlink port ID of the kernel, the only sender an
// NFLOG socket may believe: any root process in the namespace can send
// netlink messages to the socket, and from it a "packet" would be an event
// nobody logged.
const kernelPortID = 0

// forged drops a datagram sent by a user-space socket. The first one of the
// group is logged with its sender, whose process /proc/net/netlink or
// `ss -f netlink -p` names; the count is in the group's Stats.
func (s *subscription) forged(sender uint32) {
	if s.g.c.forged.Add(1) == 1 {
		s.g.log.Warn("NFLOG datagram from a user-space netlink socket, not the kernel: dropped (further ones are only counted)",
			"sender_port_id", sender)
	}
}

// deliver turns the packet messages of one datagram, read into the tail of
// the cursor's block, into a batch of records and queues it. The block
// keeps the datagram only when the batch is queued: the bytes of a
// datagram with no packet, or whose batch is dropped, are read over.
func (s *subscription) deliver(datagram []byte, now time.Time) {
	g := s.g
	batch := g.newBatch()
	err := splitDatagram(datagram, datagramVisitor{
		packet: func(msg []byte) { batch.records = s.packet(batch.records, msg, now) },
		answer: s.answer,
	})
	if err != nil {
		g.c.decodeErrors.Add(1)
		g.log.Warn("malformed NFLOG datagram: the rest of it is skipped", "err", err)
	}
	if len(batch.records) == 0 {
		g.Recycle(batch)
		return
	}
	batch.block = s.cursor.block
	batch.block.Hold(1)
	if g.push(batch, s.stopCh) {
		s.cursor.keep(len(datagram))
	}
}

// packet parses one packet message in place and appends its record.
func (s *subscription) packet(batch []decode.Record, msg []byte, now time.Time) []decode.Record {
	g := s.g
	g.c.received.Add(1)
	batch = append(batch, decode.Record{})
	r := &batch[len(batch)-1]
	if err := s.msgs.Parse(msg, binary.NativeEndian, r); err != nil {
		g.c.decodeErrors.Add(1)
		g.log.Debug("malformed NFLOG message", "err", err)
		return batch[:len(batch)-1]
	}
	if r.HasSeq {
		if lost := s.seq.observe(r.Seq); lost > 0 {
			g.c.kernelLost.Add(lost)
		}
	}
	r.Group = g.cfg.Group
	r.ReceivedAt = now
	g.countKernelConntrack(r)
	if g.names != nil {
		r.InName = name(g.names, r.InDev)
		r.OutName = name(g.names, r.OutDev)
		r.PhysInName = name(g.names, r.PhysInDev)
		r.PhysOutName = name(g.names, r.PhysOutDev)
	}
	return batch
}

// answer hands the kernel's answer to the bind request to subscribe.
func (s *subscription) answer(seq uint32, errno syscall.Errno) {
	if seq != s.bindSeq {
		return
	}
	var err error
	if errno != 0 {
		err = errno
	}
	select {
	case s.bindResult <- err:
	default:
	}
}

// stop ends the subscription and returns once the read loop is gone, so no
// record is pushed after it. It never hangs: a loop blocked on a full queue
// is released first, and closing the socket wakes a loop waiting for data.
func (s *subscription) stop() {
	s.stopOnce.Do(func() {
		close(s.stopCh)
		s.stopping.Store(true)
		_ = s.nf.Close()
	})
	<-s.done
}

// Namer resolves interface indexes to names in the namespace of the group.
// It must be cheap: it is called for every packet on the reader goroutine.
type Namer interface {
	Name(index uint32) string
}

func name(n Namer, index uint32) string {
	if index == 0 {
		return ""
	}
	return n.Name(index)
}
