package collector

import (
	"sync/atomic"
	"testing"
)

// The real reader under a flood of 1 KiB packets, many times what its
// spare blocks hold, with a consumer that recycles every batch but a few
// it holds to the end: no record is ever read over. Each record consumed
// carries the packet its sequence number says (the rule logs packet n as
// message n), the held ones keep their bytes, and every record is either
// consumed or counted. The queue holds four batches and the consumer waits
// at first, so the reader also drops batches and reads over their bytes.
func TestLabRecycledBlocksKeepRecords(t *testing.T) {
	l := labCountedRule(t, 6002, 48, "flood")
	g := openGroup(t, l.B, GroupConfig{Group: 48, Queue: 4 * DefaultQueueThreshold, ReadBuffer: 32 << 20, Overflow: DropNewest}, nil)
	var (
		consumed atomic.Uint64
		hs       []heldBatch
		gate     = make(chan struct{})
		done     = make(chan struct{})
	)
	go func() {
		defer close(done)
		<-gate
		n := 0
		for b := range g.Records() {
			recs := b.Records()
			for i := range recs {
				if _, counter, ok := udpInfo(&recs[i]); !ok || counter != recs[i].Seq {
					t.Errorf("message %d carries packet %d (ok %v)", recs[i].Seq, counter, ok)
				}
			}
			consumed.Add(uint64(len(recs)))
			if n++; n%25 == 0 {
				hs = append(hs, hold(b))
				continue
			}
			g.Recycle(b)
		}
	}()
	tx := l.Sender(t)
	const first, flood = 3000, 30000 // the second wave: ≈ 35 MiB of datagrams
	for i := range uint32(first) {
		mustSend(t, tx, udp4(l, 6002, i, 1000))
	}
	waitFor(t, "the first wave read", labWait, func() bool {
		st := g.Stats()
		return st.Received+st.KernelLost == first
	})
	close(gate)
	for i := range uint32(flood) {
		mustSend(t, tx, udp4(l, 6002, first+i, 1000))
	}
	logged := uint64(first + flood)
	waitFor(t, "the flood read", labWait, func() bool {
		st := g.Stats()
		return st.Received+st.KernelLost == logged && consumed.Load()+st.QueueDropped == st.Received
	})
	g.Close()
	<-done
	if c := l.B.Counter(t, "inet", "lab", "pre", "flood"); c != logged {
		t.Fatalf("rule counter %d, sent %d", c, logged)
	}
	st := g.Stats()
	t.Logf("stats %+v; consumed %d, held %d batches", st, consumed.Load(), len(hs))
	if st.QueueDropped == 0 || len(hs) == 0 {
		t.Errorf("nothing dropped (%d) or held (%d): the test did not exercise what it checks", st.QueueDropped, len(hs))
	}
	for _, h := range hs {
		h.check(t, g)
	}
}
