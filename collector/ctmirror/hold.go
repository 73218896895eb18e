package ctmirror

import (
	"sync/atomic"
	"time"

	"github.com/nflog-agent/nflog-agent/decode"
)

// Hold bounds. A packet logged before its connection is confirmed (at
// prerouting or forward, say) reaches the agent before the kernel's event
// for its entry; such a record waits at most MaxHold for it, and is looked
// up again every retryEvery meanwhile.
const (
	MaxHold    = 100 * time.Millisecond
	retryEvery = 10 * time.Millisecond
	maxHeld    = 65536 // records waiting at once; past it the oldest batch goes on without waiting
)

// Counters count what enrichment did with each record of a group. Every
// record the stage passes on is in exactly one of them.
type Counters struct {
	Enriched atomic.Uint64 // given its entry (by the kernel's NFULA_CT or the mirror)
	NoEntry  atomic.Uint64 // no entry: none attached, or none mirrored within MaxHold
	NoFlow   atomic.Uint64 // the packet has no flow to look up (no IP header, truncated, a later fragment, an ICMP error)
	HoldFull atomic.Uint64 // passed on without waiting, too many records were already waiting
}

// Batch is a batch of records as the reader queues them.
type Batch interface {
	Records() []decode.Record
}

// held is a batch waiting for entries.
type held[B Batch] struct {
	batch    B
	deadline time.Time
	missing  int
}

// Enrich is the enrichment stage of one group: it takes the reader's
// batches from in, gives each record its entry in m, and passes the
// batches on to out in order, a batch with missing entries waiting up to
// MaxHold. It runs until in is closed, then passes on what it holds and
// closes out. It never makes the reader wait: the reader's queue is in.
func Enrich[B Batch](m *Mirror, in <-chan B, out chan<- B, c *Counters) {
	defer close(out)
	var (
		queue  []held[B]
		nheld  int
		ticker = time.NewTicker(retryEvery)
	)
	defer ticker.Stop()
	// release passes on the batches at the head of the queue that are
	// complete, or all of them when flush; the missing are counted.
	release := func(now time.Time, flush bool) {
		for len(queue) > 0 {
			h := &queue[0]
			if h.missing > 0 {
				h.missing = m.lookUp(h.batch.Records(), c, false, flush || !now.Before(h.deadline))
			}
			if h.missing > 0 {
				return
			}
			nheld -= len(h.batch.Records())
			out <- h.batch
			queue[0] = held[B]{}
			queue = queue[1:]
		}
	}
	for {
		select {
		case batch, ok := <-in:
			if !ok {
				release(m.now(), true)
				return
			}
			now := m.now()
			missing := m.lookUp(batch.Records(), c, true, false)
			if missing == 0 && len(queue) == 0 {
				out <- batch
				continue
			}
			// Released at the first tick past its deadline: within MaxHold.
			queue = append(queue, held[B]{batch: batch, deadline: now.Add(MaxHold - retryEvery), missing: missing})
			nheld += len(batch.Records())
			for nheld > maxHeld && len(queue) > 1 {
				h := &queue[0]
				if h.missing > 0 {
					c.HoldFull.Add(uint64(m.lookUp(h.batch.Records(), c, false, false)))
				}
				nheld -= len(h.batch.Records())
				out <- h.batch
				queue = queue[1:]
			}
		case <-ticker.C:
			release(m.now(), false)
		}
	}
}

// lookUp looks up the entries of a batch's records that lack one and
// returns how many still do. The first pass counts each record it settles:
// given its entry (by the kernel or here) or without a flow; later passes
// count those found at last and, when final, those never found.
func (m *Mirror) lookUp(records []decode.Record, c *Counters, first, final bool) (missing int) {
	for i := range records {
		r := &records[i]
		if r.Ct.Present {
			if first {
				c.Enriched.Add(1)
			}
			continue
		}
		hasFlow, found := m.Lookup(r)
		switch {
		case !hasFlow:
			if first {
				c.NoFlow.Add(1)
			}
		case found:
			c.Enriched.Add(1)
		case final:
			c.NoEntry.Add(1)
		default:
			missing++
		}
	}
	return missing
}
