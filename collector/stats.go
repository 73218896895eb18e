package collector

import (
	"sync/atomic"

	"github.com/nflog-agent/nflog-agent/collector/ctmirror"
)

// Stats is a snapshot of one group's counters. Every packet the kernel logged
// to the group while it was subscribed is in exactly one of Received or
// KernelLost (once a later packet has arrived to reveal the gap); every
// received one is then either queued or in QueueDropped.
type Stats struct {
	Group        uint16
	Received     uint64 // NFLOG messages read from the socket
	KernelLost   uint64 // messages the kernel dropped, from sequence-number gaps
	ENOBUFS      uint64 // congestion episodes reported by the socket
	QueueDropped uint64 // received but dropped because the output queue was full
	DecodeErrors uint64 // datagrams or messages that could not be parsed
	Forged       uint64 // datagrams from a netlink sender other than the kernel, dropped unread
	Reopens      uint64 // times the socket was re-opened after a failure
	ReadBuffer   int    // current socket receive buffer as the kernel reports it (bytes)

	// Conntrack enrichment, on a group asked for it: every record is in
	// one of these once it has left the enrichment stage.
	Conntrack         ConntrackSource
	ConntrackEnriched uint64 // records given their entry
	ConntrackMissing  ConntrackMissing
}

// ConntrackMissing counts the records that went on without a conntrack
// entry, by reason.
type ConntrackMissing struct {
	NoEntry  uint64 // none attached by the kernel, or none mirrored within the hold time
	NoFlow   uint64 // no flow to look up: no IP header, truncated, a later fragment, an ICMP error
	HoldFull uint64 // not held for its entry: too many records were already waiting
}

// counters are the live values behind Stats, updated by the reader without
// locks.
type counters struct {
	received     atomic.Uint64
	kernelLost   atomic.Uint64
	enobufs      atomic.Uint64
	queueDropped atomic.Uint64
	decodeErrors atomic.Uint64
	forged       atomic.Uint64
	reopens      atomic.Uint64
	readBuffer   atomic.Int64
	ct           ctmirror.Counters
}

func (c *counters) snapshot(group uint16, source ConntrackSource) Stats {
	return Stats{
		Group:        group,
		Conntrack:    source,
		Received:     c.received.Load(),
		KernelLost:   c.kernelLost.Load(),
		ENOBUFS:      c.enobufs.Load(),
		QueueDropped: c.queueDropped.Load(),
		DecodeErrors: c.decodeErrors.Load(),
		Forged:       c.forged.Load(),
		Reopens:      c.reopens.Load(),
		ReadBuffer:   int(c.readBuffer.Load()),

		ConntrackEnriched: c.ct.Enriched.Load(),
		ConntrackMissing: ConntrackMissing{NoEntry: c.ct.NoEntry.Load(), NoFlow: c.ct.NoFlow.Load(),
			HoldFull: c.ct.HoldFull.Load()},
	}
}
