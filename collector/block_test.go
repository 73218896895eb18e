package collector

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"
)

// newTestReader returns a group and its reader without a socket: feed
// stands in for the read system call.
func newTestReader(cfg GroupConfig) (*Group, *subscription) {
	g := newGroup(cfg.WithDefaults(), GroupOptions{Names: fakeNames{2: "eth0"}})
	return g, &subscription{g: g, cursor: readCursor{pool: g.blocks}, stopCh: make(chan struct{})}
}

// feed does what the read loop does with a datagram the kernel sent:
// it lands in the tail of the current block and is delivered from there.
func (s *subscription) feed(datagram []byte, now time.Time) {
	tail := s.cursor.tail()
	n := copy(tail, datagram)
	s.deliver(tail[:n:n], now)
}

// Once warm, the reader allocates nothing: neither a block, though the
// datagrams fill several, nor a batch, as long as each is recycled.
func TestReaderSteadyStateAllocatesNothing(t *testing.T) {
	g, s := newTestReader(GroupConfig{Group: 100})
	datagram := datagramOf(0, 64)
	const perRun = 100
	if perRun*len(datagram) <= blockSize {
		t.Fatalf("%d datagrams of %d bytes do not fill a block", perRun, len(datagram))
	}
	now := time.Now()
	allocs := testing.AllocsPerRun(20, func() {
		for range perRun {
			s.seq = seqTracker{}
			s.feed(datagram, now)
			g.Recycle(<-g.out)
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per %d datagrams, want 0", allocs, perRun)
	}
	if st := g.Stats(); st.Received != 21*perRun*64 || st.DecodeErrors != 0 || st.QueueDropped != 0 {
		t.Errorf("stats %+v", st)
	}
}

// A backlog that fills the queue, and the catch-up that empties it, throw
// nothing away: every batch is kept for the next backlog, and so is every
// block when the queue's datagrams fit in the spare ones.
func TestReaderBacklogAllocatesNothing(t *testing.T) {
	g, s := newTestReader(GroupConfig{Group: 100, Queue: 128 * DefaultQueueThreshold})
	datagram := datagramOf(0, 64)
	if cap(g.out)*len(datagram) > spareBlocks*(blockSize-maxDatagram) {
		t.Fatalf("a full queue of %d datagrams of %d bytes needs more than the spare blocks", cap(g.out), len(datagram))
	}
	now := time.Now()
	allocs := testing.AllocsPerRun(10, func() {
		for range cap(g.out) {
			s.seq = seqTracker{}
			s.feed(datagram, now)
		}
		for range cap(g.out) {
			g.Recycle(<-g.out)
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per backlog of %d datagrams, want 0", allocs, cap(g.out))
	}
	if st := g.Stats(); st.QueueDropped != 0 {
		t.Errorf("%d records dropped", st.QueueDropped)
	}
}

// A datagram whose batch the full queue drops costs nothing: its records
// are counted as dropped, and the next datagram is read over its bytes.
func TestReaderDropReusesTheSpace(t *testing.T) {
	g, s := newTestReader(GroupConfig{Group: 100, Queue: 2 * DefaultQueueThreshold, Overflow: DropNewest})
	datagram := datagramOf(0, 64)
	now := time.Now()
	for range cap(g.out) {
		s.feed(datagram, now)
	}
	blk, off := s.cursor.block, s.cursor.off
	allocs := testing.AllocsPerRun(100, func() { s.feed(datagram, now) })
	if allocs != 0 {
		t.Errorf("%.1f allocations per dropped datagram, want 0", allocs)
	}
	if s.cursor.block != blk || s.cursor.off != off {
		t.Errorf("dropped datagrams kept: block %p offset %d, was %p %d", s.cursor.block, s.cursor.off, blk, off)
	}
	if got := g.Stats().QueueDropped; got != 101*64 {
		t.Errorf("%d records dropped, want %d", got, 101*64)
	}
	if got := blk.Refs(); got != 1+int32(cap(g.out)) {
		t.Errorf("block has %d references, want the reader's and one per queued batch: %d", got, 1+cap(g.out))
	}
}

// A block is never read over while a batch in it is not recycled: batches
// held by the consumer keep their bytes while the reader goes through many
// more blocks than it keeps, the others being recycled as they come. The
// consumer runs on its own goroutine, so that under -race an early reuse is
// also a reported race between the reader's write and the consumer's read.
func TestHeldBatchKeepsItsBytes(t *testing.T) {
	g, s := newTestReader(GroupConfig{Group: 100, Queue: 4 * DefaultQueueThreshold, Overflow: Block})
	const (
		datagrams = 1500 // ≈ 20 MiB: each block is reused many times
		perBatch  = 64
		holdEvery = 97
	)
	heldc := make(chan []heldBatch)
	go func() {
		var hs []heldBatch
		n := 0
		for b := range g.out {
			recs := b.Records()
			for i := range recs {
				if got := binary.BigEndian.Uint32(recs[i].Payload[tcpSeqAt:]); got != recs[i].Seq {
					t.Errorf("record %d has the packet of %d", recs[i].Seq, got)
				}
			}
			if n++; n%holdEvery == 1 {
				hs = append(hs, hold(b))
				continue
			}
			g.Recycle(b)
		}
		heldc <- hs
	}()
	now := time.Now()
	for i := range datagrams {
		s.feed(datagramOf(uint32(i*perBatch), perBatch), now)
	}
	close(g.out)
	hs := <-heldc
	if len(hs) < datagrams/holdEvery {
		t.Fatalf("%d batches held", len(hs))
	}
	for _, h := range hs {
		h.check(t, g)
	}
	if st := g.Stats(); st.Received != datagrams*perBatch || st.KernelLost != 0 || st.QueueDropped != 0 {
		t.Errorf("stats %+v", st)
	}
}

// heldBatch is a batch a consumer keeps instead of recycling it, with a
// copy of its packets.
type heldBatch struct {
	batch    *Batch
	payloads [][]byte
}

func hold(b *Batch) heldBatch {
	h := heldBatch{batch: b}
	for _, r := range b.Records() {
		h.payloads = append(h.payloads, bytes.Clone(r.Payload))
	}
	return h
}

// check fails the test if a packet of the batch changed since it was
// held, and then recycles the batch.
func (h heldBatch) check(t *testing.T, g *Group) {
	t.Helper()
	for i, r := range h.batch.Records() {
		if !bytes.Equal(r.Payload, h.payloads[i]) {
			t.Fatalf("held message %d: its packet was read over", r.Seq)
		}
	}
	g.Recycle(h.batch)
}
