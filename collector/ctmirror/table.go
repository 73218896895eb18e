package ctmirror

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nflog-agent/nflog-agent/decode"
)

// endpoint is one side of a flow: an address and a port (the ICMP id for
// ICMP, 0 for protocols without ports).
type endpoint struct {
	addr netip.Addr
	port uint16
}

// flowKey names a flow whichever way its packets go: the two endpoints in
// a fixed order, so a packet and its answer give the same key. For ICMP
// the order is the requester's first: the id alone cannot tell a ping
// from A to B from one from B to A with the same id, which conntrack
// tracks apart by the ICMP type.
type flowKey struct {
	proto  uint8
	lo, hi endpoint
}

// newFlowKey makes the key of a flow from a to b, a being the requester
// for ICMP.
func newFlowKey(proto uint8, a, b endpoint) flowKey {
	if proto != protoICMP && proto != protoICMPv6 && (b.addr.Less(a.addr) || b.addr == a.addr && b.port < a.port) {
		a, b = b, a
	}
	return flowKey{proto: proto, lo: a, hi: b}
}

// tupleEnds returns the endpoints of a conntrack tuple.
func tupleEnds(t *decode.CtTuple) (src, dst endpoint) {
	switch {
	case t.HasPorts:
		return endpoint{t.Src, t.SrcPort}, endpoint{t.Dst, t.DstPort}
	case t.HasICMP:
		return endpoint{t.Src, t.ICMPID}, endpoint{t.Dst, t.ICMPID}
	}
	return endpoint{t.Src, 0}, endpoint{t.Dst, 0}
}

// entryKeys returns the keys under which a packet of the entry can be
// seen, whichever NAT has been applied to it at the hook that logged it:
// none (the original tuple), all (the reply tuple), or the destination's
// only (prerouting's DNAT done, postrouting's SNAT not yet: original
// source to reply source). Keys are direction-free, so each also finds the
// reply-direction packets at the same stage; each is made requester
// first.
func entryKeys(ct *decode.Conntrack) (keys [3]flowKey, n int) {
	os, od := tupleEnds(&ct.Orig)
	rs, rd := tupleEnds(&ct.Reply)
	proto := ct.Orig.Proto
	for _, k := range [...]flowKey{newFlowKey(proto, os, od), newFlowKey(proto, rd, rs), newFlowKey(proto, os, rs)} {
		dup := false
		for _, have := range keys[:n] {
			dup = dup || have == k
		}
		if !dup {
			keys[n] = k
			n++
		}
	}
	return keys, n
}

// slot is one mirrored entry.
// Its keys are not kept: they follow from its tuples.
type slot struct {
	ct    decode.Conntrack
	dying bool        // destroyed, kept until its grace period ends
	used  atomic.Bool // looked up or updated since eviction last passed it
}

// destroyedGrace is how long a destroyed entry stays: the packets of a
// connection that ended at once (a SYN answered by a RST is destroyed
// within microseconds) reach the agent after the kernel's batch flush.
const destroyedGrace = 2 * time.Second

// death is a destroyed entry waiting for the end of its grace period.
type death struct {
	id    uint32
	after int64 // unix ns
}

// table is the bounded mirror of the conntrack table: entries by id, and
// the ids by flow key. When full, the oldest entry that has not been used
// since the last pass is evicted (a second-chance FIFO), so connections
// that packets are still being logged for stay. It is safe for concurrent
// use: one writer (the event reader), many readers.
type table struct {
	mu        sync.RWMutex
	max       int
	byID      map[uint32]*slot
	byKey     map[flowKey]uint32
	order     []uint32 // ids in insertion order, possibly stale, from head on
	head      int
	dying     []death // destroyed entries, oldest first, from dyingHead on
	dyingHead int

	evicted uint64 // entries pushed out to make room; under mu
}

func newTable(max int) *table {
	return &table{max: max, byID: make(map[uint32]*slot), byKey: make(map[flowKey]uint32)}
}

// put inserts or updates an entry. An update keeps the labels it does not
// carry: the kernel sends them only when they change.
func (t *table) put(ct *decode.Conntrack, now time.Time) {
	if !ct.HasID || !ct.Orig.Src.IsValid() || !ct.Reply.Src.IsValid() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.bury(now)
	if s, ok := t.byID[ct.ID]; ok {
		if !ct.HasLabels && s.ct.HasLabels {
			ct.HasLabels, ct.Labels = true, s.ct.Labels
		}
		same := s.ct.Orig == ct.Orig && s.ct.Reply == ct.Reply
		if !same { // an update seldom changes the tuples: keep the keys
			t.unindex(s)
		}
		s.ct, s.dying = *ct, false
		s.used.Store(true)
		if !same {
			t.index(s)
		}
		return
	}
	for len(t.byID) >= t.max && t.evictOne() {
	}
	s := &slot{ct: *ct}
	t.byID[ct.ID] = s
	t.order = append(t.order, ct.ID)
	t.index(s)
	t.compact()
}

// index points the entry's keys at it (replacing any older entry's that
// shares them).
func (t *table) index(s *slot) {
	keys, n := entryKeys(&s.ct)
	for _, k := range keys[:n] {
		t.byKey[k] = s.ct.ID
	}
}

// unindex removes the entry's keys, those another entry took excepted.
func (t *table) unindex(s *slot) {
	keys, n := entryKeys(&s.ct)
	for _, k := range keys[:n] {
		if t.byKey[k] == s.ct.ID {
			delete(t.byKey, k)
		}
	}
}

// destroy marks the entry with the id destroyed: it stays for
// destroyedGrace, then goes.
func (t *table) destroy(id uint32, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.bury(now)
	if s, ok := t.byID[id]; ok && !s.dying {
		s.dying = true
		t.dying = append(t.dying, death{id, now.Add(destroyedGrace).UnixNano()})
	}
}

// bury removes the destroyed entries whose grace period has ended, unless
// the kernel re-created them (an id can be reused).
func (t *table) bury(now time.Time) {
	ns := now.UnixNano()
	for t.dyingHead < len(t.dying) && t.dying[t.dyingHead].after <= ns {
		id := t.dying[t.dyingHead].id
		t.dyingHead++
		if s, ok := t.byID[id]; ok && s.dying {
			t.unindex(s)
			delete(t.byID, id)
		}
	}
	if t.dyingHead > 1024 && t.dyingHead > len(t.dying)/2 {
		t.dying = append(t.dying[:0], t.dying[t.dyingHead:]...)
		t.dyingHead = 0
	}
}

// evictOne removes the oldest unused entry, giving used ones a second
// chance. It reports false when nothing is left to evict.
func (t *table) evictOne() bool {
	for t.head < len(t.order) {
		id := t.order[t.head]
		t.head++
		s, ok := t.byID[id]
		if !ok {
			continue // removed since
		}
		if s.used.Swap(false) {
			t.order = append(t.order, id)
			continue
		}
		t.unindex(s)
		delete(t.byID, id)
		t.evicted++
		return true
	}
	return false
}

// compact keeps order at most about twice the live entries: once the
// consumed head and the ids of removed entries outweigh them, it keeps
// only the live ids, in order.
func (t *table) compact() {
	if len(t.order) < 2*len(t.byID)+1024 {
		return
	}
	live := t.order[:0]
	for _, id := range t.order[t.head:] {
		if _, ok := t.byID[id]; ok {
			live = append(live, id)
		}
	}
	t.order, t.head = live, 0
}

// lookup finds the entry of a flow and copies it to ct.
func (t *table) lookup(k flowKey, ct *decode.Conntrack) bool {
	t.mu.RLock()
	id, ok := t.byKey[k]
	var s *slot
	if ok {
		s = t.byID[id]
		*ct = s.ct
	}
	t.mu.RUnlock()
	if s != nil && !s.used.Load() {
		s.used.Store(true)
	}
	return s != nil
}

// stats returns the number of entries and of evictions so far.
func (t *table) stats() (entries int, evicted uint64) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.byID), t.evicted
}
