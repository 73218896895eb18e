package collector

import (
	"testing"
	"time"
)

// A flood into a deliberately small socket buffer. The reader is
// held (Block policy, consumer not reading) so the kernel must drop; then it
// must keep receiving after ENOBUFS, grow its buffer, and account for every
// logged packet exactly: received + lost in the kernel == the rule's counter.
func TestLabOverloadExactAccounting(t *testing.T) {
	l := labCountedRule(t, 6000, 46, "flood")
	cfg := GroupConfig{
		Group:         46,
		ReadBuffer:    16 << 10, // the kernel grants twice this
		ReadBufferMax: 256 << 10,
		Queue:         64,
		Overflow:      Block,
	}
	g := openGroup(t, l.B, cfg, nil)
	initialBuf := g.Stats().ReadBuffer
	s := drainGated(g, false)
	tx := l.Sender(t)

	// Wave 1: the consumer holds, the queue fills, the reader blocks, the
	// socket fills and the kernel drops whole batches.
	const flood = 5000
	for i := range uint32(flood) {
		mustSend(t, tx, udp4(l, 6000, i, 64))
	}
	time.Sleep(2 * DefaultFlushTimeout) // let the kernel flush its last batch into the full socket
	s.release()

	// Wave 2, paced: reception goes on after ENOBUFS.
	const paced = 200
	for i := range uint32(paced) {
		mustSend(t, tx, udp4(l, 6000, flood+i, 64))
		time.Sleep(200 * time.Microsecond)
	}
	// A last packet after a pause reveals any loss at the end of wave 2 as a
	// sequence gap: the kernel's losses are only visible to the next message.
	time.Sleep(200 * time.Millisecond)
	lastSent := uint32(flood + paced)
	mustSend(t, tx, udp4(l, 6000, lastSent, 64))
	waitFor(t, "the last packet", labWait, func() bool {
		recs := s.records()
		if len(recs) == 0 {
			return false
		}
		_, c, _ := udpInfo(&recs[len(recs)-1])
		return c == lastSent
	})

	logged := l.B.Counter(t, "inet", "lab", "pre", "flood")
	st := g.Stats()
	t.Logf("sent %d, rule logged %d; stats %+v (buffer %d → %d)", lastSent+1, logged, st, initialBuf, st.ReadBuffer)
	if logged != uint64(lastSent+1) {
		t.Fatalf("rule counter %d, sent %d: the test's traffic did not all reach the rule", logged, lastSent+1)
	}
	if st.Received+st.KernelLost != logged {
		t.Errorf("received %d + kernel-lost %d = %d, the rule logged %d", st.Received, st.KernelLost, st.Received+st.KernelLost, logged)
	}
	if st.KernelLost == 0 || st.ENOBUFS == 0 {
		t.Errorf("the flood caused no kernel-side loss (lost %d, ENOBUFS %d): the test did not overload anything", st.KernelLost, st.ENOBUFS)
	}
	if st.ReadBuffer <= initialBuf {
		t.Errorf("read buffer %d after ENOBUFS, want grown from %d", st.ReadBuffer, initialBuf)
	}
	if got := uint64(s.len()); got != st.Received || st.QueueDropped != 0 {
		t.Errorf("consumer got %d records, reader received %d, queue dropped %d", got, st.Received, st.QueueDropped)
	}
	// Records carry their sequence numbers: received + gaps must add up
	// independently of the counters, too.
	recs := s.records()
	var wave2 int
	for _, r := range recs {
		if _, c, _ := udpInfo(&r); c >= flood {
			wave2++
		}
	}
	if last := recs[len(recs)-1]; uint64(last.Seq)+1 != logged {
		t.Errorf("last sequence number %d, want %d", last.Seq, logged-1)
	}
	if wave2 == 0 {
		t.Error("nothing of the paced wave arrived after ENOBUFS")
	}
}

// A burst that fills more than half the socket buffer while the reader is
// held: the reader grows the buffer as soon as it reads again, before the
// kernel has dropped anything.
func TestLabReadBufferGrowsBeforeTheKernelDrops(t *testing.T) {
	l := labCountedRule(t, 6002, 48, "burst")
	cfg := GroupConfig{Group: 48, ReadBuffer: 64 << 10, ReadBufferMax: 1 << 20, Queue: 8, QueueThreshold: 1, Overflow: Block}
	g := openGroup(t, l.B, cfg, nil)
	initialBuf := g.Stats().ReadBuffer
	s := drainGated(g, false)
	tx := l.Sender(t)
	waitFor(t, "the group's reader", labWait, func() bool { return g.current.Load() != nil })
	raw, err := g.current.Load().conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	probe := newDatagramReader(raw)
	var sent uint32
	for {
		held, limit, err := probe.fill()
		if err != nil {
			t.Fatal(err)
		}
		if held > limit*3/5 {
			break
		}
		if sent == 100_000 {
			t.Fatalf("the socket holds %d of %d bytes after %d packets: the reader is not held", held, limit, sent)
		}
		mustSend(t, tx, udp4(l, 6002, sent, 64))
		sent++
	}
	time.Sleep(2 * fillCheckEvery) // the reader's next read checks the fill level
	s.release()
	waitFor(t, "every packet read", labWait, func() bool { return g.Stats().Received == uint64(sent) })
	st := g.Stats()
	t.Logf("sent %d; stats %+v (buffer %d → %d)", sent, st, initialBuf, st.ReadBuffer)
	if st.ENOBUFS != 0 || st.KernelLost != 0 {
		t.Errorf("the kernel dropped (ENOBUFS %d, lost %d) though the socket never held more than its buffer", st.ENOBUFS, st.KernelLost)
	}
	if st.ReadBuffer <= initialBuf {
		t.Errorf("read buffer %d, want grown from %d once the socket was more than half full", st.ReadBuffer, initialBuf)
	}
}

// The drop-newest policy never blocks the reader: every record that does not
// fit the queue is counted, and received == consumed + dropped.
func TestLabOverflowDropNewest(t *testing.T) {
	l := labCountedRule(t, 6001, 47, "drop")
	// A queue of one kernel batch of at most ten records.
	g := openGroup(t, l.B, GroupConfig{Group: 47, Queue: 10, QueueThreshold: 10, Overflow: DropNewest}, nil)
	s := drainGated(g, false)
	tx := l.Sender(t)
	const n = 300
	for i := range uint32(n) {
		mustSend(t, tx, udp4(l, 6001, i, 0))
	}
	waitFor(t, "all packets read", labWait, func() bool { return g.Stats().Received == n })
	g.Close()
	s.release()
	<-s.done
	st := g.Stats()
	kept := uint64(s.len())
	if kept == 0 || kept > 10 || kept+st.QueueDropped != n || st.KernelLost != 0 {
		t.Errorf("stats %+v with %d records consumed, want at most 10 kept and the rest counted as queue drops", st, kept)
	}
	// Drop newest: the queue keeps the first batch.
	for i, r := range s.records() {
		if _, c, _ := udpInfo(&r); c != uint32(i) {
			t.Errorf("record %d is packet %d", i, c)
		}
	}
}
