package collector

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/nflog-agent/nflog-agent/collector/ctmirror"
	"github.com/nflog-agent/nflog-agent/decode"
)

// ConntrackSource is where a group's records get their conntrack entries.
type ConntrackSource uint8

const (
	// ConntrackOff: the group was not asked for conntrack.
	ConntrackOff ConntrackSource = iota
	// ConntrackKernel: the kernel attaches the entry to each NFLOG message
	// (NFULNL_CFG_F_CONNTRACK).
	ConntrackKernel
	// ConntrackNetlink: the kernel cannot (it lacks
	// CONFIG_NETFILTER_NETLINK_GLUE_CT), so the entries are looked up in a
	// mirror of the conntrack table kept over ctnetlink.
	ConntrackNetlink
)

func (s ConntrackSource) String() string {
	switch s {
	case ConntrackKernel:
		return "nflog"
	case ConntrackNetlink:
		return "ctnetlink"
	}
	return "off"
}

// ErrNoConntrack means a group asked for conntrack has no source of
// entries: the kernel cannot attach them and ctnetlink is unavailable.
var ErrNoConntrack = errors.New("collector: no source of conntrack entries")

// noKernelConntrackHint says why the kernel refused to attach entries.
const noKernelConntrackHint = "this kernel cannot attach conntrack entries to NFLOG messages " +
	"(built without CONFIG_NETFILTER_NETLINK_GLUE_CT)"

// kernelConntrackRefused reports whether a failed bind asked for the
// kernel's entries and should be tried again: EOPNOTSUPP means the kernel
// cannot attach them, and the group falls back to ctnetlink for good;
// EAGAIN means the kernel has just loaded the module that can, once. The
// choice is made when the group is opened; a re-opened socket keeps it.
func (g *Group) kernelConntrackRefused(err error) bool {
	if g.conntrack != ConntrackKernel || g.opened {
		return false
	}
	switch {
	case errors.Is(err, unix.EOPNOTSUPP):
		g.conntrack = ConntrackNetlink
		g.log.Info("NFLOG conntrack attachment refused (EOPNOTSUPP): entries come from ctnetlink",
			"reason", noKernelConntrackHint)
		return true
	case errors.Is(err, unix.EAGAIN) && !g.conntrackRetried:
		g.conntrackRetried = true
		return true
	}
	return false
}

// countKernelConntrack counts, on a group the kernel gives entries to,
// whether this record got one: the kernel attaches none to a packet
// conntrack does not track.
func (g *Group) countKernelConntrack(r *decode.Record) {
	if g.conntrack != ConntrackKernel {
		return
	}
	if r.Ct.Present {
		g.c.ct.Enriched.Add(1)
	} else {
		g.c.ct.NoEntry.Add(1)
	}
}

// startConntrack starts the enrichment stage of a group whose entries come
// from ctnetlink, between the reader's queue and Records.
func (g *Group) startConntrack(open func() (*ctmirror.Mirror, error)) error {
	if g.conntrack != ConntrackNetlink {
		return nil
	}
	err := errors.New("no ctnetlink mirror configured")
	var m *ctmirror.Mirror
	if open != nil {
		m, err = open()
	}
	if err != nil {
		return &GroupError{Group: g.cfg.Group, Op: "conntrack", Err: fmt.Errorf("%w: %w", ErrNoConntrack, err),
			Hint: fmt.Sprintf("%s, and ctnetlink is unavailable: load nf_conntrack_netlink "+
				"(`modprobe nf_conntrack_netlink`), run on a kernel with CONFIG_NETFILTER_NETLINK_GLUE_CT, "+
				"or set conntrack: false for group %d", noKernelConntrackHint, g.cfg.Group)}
	}
	g.records = make(chan *Batch, enrichedBatches)
	go ctmirror.Enrich(m, g.out, g.records, &g.c.ct)
	return nil
}

// enrichedBatches is the queue between the enrichment stage and Records:
// the reader's queue is before the stage, so this one only smooths.
const enrichedBatches = 4
