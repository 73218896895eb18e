package collector

// seqTracker turns NFLOG sequence numbers (NFULA_SEQ: a per-instance counter
// the kernel increments for every message it builds, starting at 0) into a
// count of messages the kernel built but never delivered. A message lost in
// the kernel is only revealed by the next one that arrives, so losses at the
// very end of a subscription stay uncounted.
type seqTracker struct {
	started bool
	next    uint32
}

// observe returns how many messages were lost before seq. The difference is
// taken modulo 2^32, so the counter may wrap.
func (t *seqTracker) observe(seq uint32) uint64 {
	if !t.started {
		t.started = true
		t.next = seq + 1
		// A fresh kernel instance starts at 0: anything before the first
		// message we see was logged to us and dropped.
		return uint64(seq)
	}
	gap := seq - t.next
	t.next = seq + 1
	// A sequence number that goes backwards (gap near 2^32) cannot happen
	// on one instance; treat it as a restart rather than 4 billion losses.
	if gap > 1<<31 {
		return 0
	}
	return uint64(gap)
}
