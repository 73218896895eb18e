package collector

import "sync/atomic"

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
	DecodeErrors uint64 // messages or records that could not be decoded
	Forged       uint64 // datagrams from a netlink sender other than the kernel, dropped unread
	Reopens      uint64 // times the socket was re-opened after a failure
	ReadBuffer   int    // current socket receive buffer as the kernel reports it (bytes)
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
}

func (c *counters) snapshot(group uint16) Stats {
	return Stats{
		Group:        group,
		Received:     c.received.Load(),
		KernelLost:   c.kernelLost.Load(),
		ENOBUFS:      c.enobufs.Load(),
		QueueDropped: c.queueDropped.Load(),
		DecodeErrors: c.decodeErrors.Load(),
		Forged:       c.forged.Load(),
		Reopens:      c.reopens.Load(),
		ReadBuffer:   int(c.readBuffer.Load()),
	}
}
