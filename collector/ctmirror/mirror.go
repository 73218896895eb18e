// Package ctmirror mirrors the kernel's conntrack table over ctnetlink, for
// kernels that cannot attach the entry to NFLOG messages themselves. It
// dumps the table once, then follows the new, update and destroy events
// into a bounded table, and looks up the entry of each logged packet by
// its flow, whichever NAT the hook that logged it had applied.
//
// Events are read into a reused buffer and parsed by decode.ParseConntrack,
// the parser of NFULA_CT, which allocates nothing: github.com/ti-mo/conntrack,
// which the tests use as an independent reading of the kernel's table,
// allocates a Flow and its attributes per event.
package ctmirror

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/nflog-agent/nflog-agent/decode"
)

// ctnetlink message types (IPCTNL_MSG_CT_*) of the NFNL_SUBSYS_CTNETLINK
// subsystem.
const (
	msgNew    = unix.NFNL_SUBSYS_CTNETLINK << 8 // IPCTNL_MSG_CT_NEW is 0
	msgGet    = unix.NFNL_SUBSYS_CTNETLINK<<8 | 1
	msgDelete = unix.NFNL_SUBSYS_CTNETLINK<<8 | 2
)

// Defaults.
const (
	DefaultMaxEntries = 131072
	DefaultReadBuffer = 8 << 20
	maxReadBuffer     = 64 << 20
)

// Options configure a Mirror.
type Options struct {
	NetNS      int          // network namespace fd; 0 = the caller's
	MaxEntries int          // entries kept at most (0: DefaultMaxEntries)
	ReadBuffer int          // event socket receive buffer (0: DefaultReadBuffer)
	Logger     *slog.Logger // nil discards
}

// Stats is a snapshot of a Mirror's counters.
type Stats struct {
	Entries     int    // entries mirrored now
	Events      uint64 // ctnetlink events applied
	EventsLost  uint64 // ENOBUFS on the event socket: the kernel dropped events
	Evicted     uint64 // entries pushed out to keep within MaxEntries
	ParseErrors uint64 // events that could not be read
	Resyncs     uint64 // dumps of the whole table after lost events
}

// Mirror is a live, bounded copy of one network namespace's conntrack
// table. Its methods are safe for concurrent use.
type Mirror struct {
	t    *table
	now  func() time.Time // time.Now; simulated in benchmarks
	conn *netlink.Conn
	raw  syscall.RawConn
	log  *slog.Logger

	netns       int
	readBuffer  int
	resyncing   atomic.Bool // a dump after lost events is running
	resyncDone  sync.WaitGroup
	lastResync  time.Time // read loop only
	resyncs     atomic.Uint64
	events      atomic.Uint64
	eventsLost  atomic.Uint64
	parseErrors atomic.Uint64

	stopping atomic.Bool
	done     chan struct{}
}

// Open subscribes to the conntrack events of the namespace, dumps the
// table and starts following it. It fails when ctnetlink is unavailable
// (no nf_conntrack_netlink, or no CAP_NET_ADMIN), saying how to fix it.
func Open(o Options) (*Mirror, error) {
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.ReadBuffer <= 0 {
		o.ReadBuffer = DefaultReadBuffer
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: o.NetNS})
	if err != nil {
		return nil, openError("open a ctnetlink socket", err)
	}
	for _, g := range []uint32{unix.NFNLGRP_CONNTRACK_NEW, unix.NFNLGRP_CONNTRACK_UPDATE, unix.NFNLGRP_CONNTRACK_DESTROY} {
		if err := conn.JoinGroup(g); err != nil {
			conn.Close()
			return nil, openError("join the conntrack event groups", err)
		}
	}
	if err := conn.SetReadBuffer(o.ReadBuffer); err != nil {
		conn.Close()
		return nil, openError("set the event socket's read buffer", err)
	}
	raw, err := conn.SyscallConn()
	if err != nil {
		conn.Close()
		return nil, openError("open a ctnetlink socket", err)
	}
	m := &Mirror{t: newTable(o.MaxEntries), now: time.Now, conn: conn, raw: raw, log: o.Logger, netns: o.NetNS,
		readBuffer: o.ReadBuffer,
		done:       make(chan struct{})}
	// Subscribed first, dumped second: an entry created in between is in
	// the dump or in an event, perhaps both, which put absorbs.
	if err := m.dump(o.NetNS); err != nil {
		conn.Close()
		return nil, err
	}
	go m.read()
	return m, nil
}

// openError wraps a failure to reach ctnetlink with the fix.
func openError(op string, err error) error {
	hint := "load the nf_conntrack_netlink module (`modprobe nf_conntrack_netlink`)"
	if errors.Is(err, unix.EPERM) || errors.Is(err, os.ErrPermission) {
		hint = "the agent needs CAP_NET_ADMIN to read the conntrack table"
	}
	return fmt.Errorf("ctmirror: %s: %w (%s)", op, err, hint)
}

// dump reads the whole table into the mirror, on a socket of its own so
// that the event socket's messages stay events.
func (m *Mirror) dump(netns int) error {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: netns})
	if err != nil {
		return openError("open a ctnetlink socket", err)
	}
	defer c.Close()
	req := netlink.Message{
		Header: netlink.Header{Type: msgGet, Flags: netlink.Request | netlink.Dump},
		Data:   []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0},
	}
	// Execute reads the whole multi-part answer, up to its NLMSG_DONE.
	msgs, err := c.Execute(req)
	if err != nil {
		return openError("dump the conntrack table", err)
	}
	for _, msg := range msgs {
		m.apply(uint16(msg.Header.Type), msg.Data)
	}
	return nil
}

// read is the event goroutine: one datagram at a time into a buffer it
// reuses, as entries are copied out of it.
func (m *Mirror) read() {
	defer close(m.done)
	buf := make([]byte, 64<<10)
	for {
		n, err := m.recv(buf)
		if err != nil {
			if m.stopping.Load() {
				return
			}
			if errors.Is(err, unix.ENOBUFS) {
				m.eventsLost.Add(1)
				m.grow()
				m.resync()
				continue
			}
			m.log.Error("conntrack event socket failed: events are no longer enriched", "err", err)
			return
		}
		m.applyDatagram(buf[:n])
	}
}

// resyncEvery limits the dumps that make up for lost events.
const resyncEvery = 10 * time.Second

// resync dumps the table again after the kernel dropped events, on its
// own goroutine so that the events keep being read: entries whose new
// event was lost come back. An entry whose destroy event was lost stays
// until it is evicted or its tuple is reused.
func (m *Mirror) resync() {
	if time.Since(m.lastResync) < resyncEvery || !m.resyncing.CompareAndSwap(false, true) {
		return
	}
	m.lastResync = time.Now()
	m.resyncs.Add(1)
	m.resyncDone.Go(func() {
		defer m.resyncing.Store(false)
		if err := m.dump(m.netns); err != nil {
			m.log.Warn("re-reading the conntrack table after lost events failed", "err", err)
		}
	})
}

// recv reads one datagram, waiting for one.
func (m *Mirror) recv(buf []byte) (int, error) {
	var (
		n    int
		rerr error
	)
	err := m.raw.Read(func(fd uintptr) bool {
		n, _, _, _, rerr = unix.Recvmsg(int(fd), buf, nil, 0)
		return rerr != unix.EAGAIN
	})
	if err != nil {
		return 0, err
	}
	if rerr != nil {
		return 0, fmt.Errorf("recvmsg: %w", rerr)
	}
	return n, nil
}

// grow doubles the event socket's buffer after the kernel dropped events.
func (m *Mirror) grow() {
	if m.readBuffer >= maxReadBuffer {
		return
	}
	m.readBuffer = min(2*m.readBuffer, maxReadBuffer)
	if err := m.conn.SetReadBuffer(m.readBuffer); err != nil {
		m.log.Warn("growing the conntrack event socket buffer failed", "bytes", m.readBuffer, "err", err)
		return
	}
	m.log.Warn("kernel dropped conntrack events (ENOBUFS): some events may go without their entry; buffer grown",
		"read_buffer", m.readBuffer)
}

// applyDatagram applies each netlink message of a datagram.
func (m *Mirror) applyDatagram(b []byte) {
	for len(b) >= unix.NLMSG_HDRLEN {
		n := int(binary.NativeEndian.Uint32(b))
		if n < unix.NLMSG_HDRLEN || n > len(b) {
			m.parseErrors.Add(1)
			return
		}
		m.apply(binary.NativeEndian.Uint16(b[4:]), b[unix.NLMSG_HDRLEN:n])
		b = b[min((n+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1), len(b)):]
	}
}

// apply applies one ctnetlink message: a new or updated entry, or a
// destroyed one.
func (m *Mirror) apply(typ uint16, data []byte) {
	if typ != msgNew && typ != msgDelete {
		return
	}
	var ct decode.Conntrack
	if len(data) < 4 || decode.ParseConntrack(data[4:], binary.NativeEndian, &ct) != nil {
		m.parseErrors.Add(1)
		return
	}
	m.events.Add(1)
	now := m.now()
	if typ == msgDelete {
		m.t.destroy(ct.ID, now)
		return
	}
	m.t.put(&ct, now)
}

// Lookup fills r.Ct with the entry of the record's flow and r.CtInfo with
// the state the kernel would have given the packet. It reports whether the
// record has a flow to look up at all, and whether its entry was found.
func (m *Mirror) Lookup(r *decode.Record) (hasFlow, found bool) {
	f, ok := flowOf(r)
	if !ok {
		return false, false
	}
	if !m.t.lookup(f.key(), &r.Ct) {
		return true, false
	}
	r.HasCtInfo, r.CtInfo = true, derivedInfo(&r.Ct, f.src)
	return true, true
}

// Stats returns a snapshot of the counters.
func (m *Mirror) Stats() Stats {
	entries, evicted := m.t.stats()
	return Stats{Entries: entries, Events: m.events.Load(), EventsLost: m.eventsLost.Load(), Evicted: evicted,
		ParseErrors: m.parseErrors.Load(), Resyncs: m.resyncs.Load()}
}

// Close stops following the table.
func (m *Mirror) Close() error {
	m.stopping.Store(true)
	err := m.conn.Close()
	<-m.done
	m.resyncDone.Wait()
	return err
}
