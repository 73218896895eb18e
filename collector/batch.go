package collector

import (
	"github.com/nflog-agent/nflog-agent/decode"
	"github.com/nflog-agent/nflog-agent/internal/refbuf"
)

// Batch is the records of one datagram: one kernel batch, up to
// QueueThreshold packets. The records' byte slices point into the block
// the datagram was read into, which the reader reuses once every batch in
// it is recycled.
type Batch struct {
	records []decode.Record
	block   *refbuf.Buffer // nil while the batch is empty or spare
}

// Records returns the batch's records. They, and the bytes they point
// into, stay valid until the batch is recycled.
func (b *Batch) Records() []decode.Record { return b.records }

// Recycle hands a batch from Records back to the reader for reuse, once
// nothing refers to it, to its records or to their byte slices any more;
// the batch must not be used after. Calling it is optional: it saves the
// reader the allocation of a batch per datagram and of a block per few
// dozen, which under a flood is most of the agent's garbage.
func (g *Group) Recycle(b *Batch) {
	// Cleared so that a spare batch does not keep a block alive, should
	// the block be left to the garbage collector.
	clear(b.records[:cap(b.records)])
	b.records = b.records[:0]
	if b.block != nil {
		b.block.Release()
		b.block = nil
	}
	select {
	case g.spare <- b:
	default:
	}
}

// newBatch returns an empty batch with room for a kernel batch.
func (g *Group) newBatch() *Batch {
	select {
	case b := <-g.spare:
		return b
	default:
		return &Batch{records: make([]decode.Record, 0, g.cfg.QueueThreshold)}
	}
}

// spareBatches is how many recycled batches a Group keeps: as many as can
// be in flight at once outside the conntrack stage's hold (the reader's
// queue, the enrichment stage's output, the one the consumer and the one
// the reader have in hand), so that the catch-up after a backlog throws no
// batch away. They exist anyway while the queue is full.
func (c GroupConfig) spareBatches() int {
	return c.queueBatches() + enrichedBatches + 2
}
