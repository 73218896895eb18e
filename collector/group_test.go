package collector

import (
	"testing"

	"github.com/nflog-agent/nflog-agent/decode"
)

func batchOf(seqs ...uint32) *Batch {
	b := make([]decode.Record, len(seqs))
	for i, s := range seqs {
		b[i].Seq = s
	}
	return &Batch{records: b}
}

func TestPushOverflowPolicy(t *testing.T) {
	newGroup := func(o Overflow, batches int) *Group {
		return &Group{cfg: GroupConfig{Overflow: o}, out: make(chan *Batch, batches), spare: make(chan *Batch, 1)}
	}
	drop := newGroup(DropNewest, 2)
	stop := make(chan struct{})
	for i := range uint32(5) {
		drop.push(batchOf(2*i, 2*i+1), stop)
	}
	if got := drop.Stats().QueueDropped; got != 6 {
		t.Errorf("drop newest: %d records dropped, want 6", got)
	}
	if a, b := <-drop.out, <-drop.out; a.records[0].Seq != 0 || b.records[0].Seq != 2 {
		t.Errorf("drop newest kept batches %d, %d; want the oldest 0, 2", a.records[0].Seq, b.records[0].Seq)
	}

	// Block waits for room, and gives up (counting the records) at shutdown.
	block := newGroup(Block, 1)
	block.push(batchOf(0), stop)
	done := make(chan struct{})
	go func() { block.push(batchOf(1), stop); close(done) }()
	<-block.out // room: the blocked push completes
	<-done
	if r := <-block.out; r.records[0].Seq != 1 || block.Stats().QueueDropped != 0 {
		t.Errorf("block: got seq %d, dropped %d", r.records[0].Seq, block.Stats().QueueDropped)
	}
	block.push(batchOf(0), stop)
	close(stop)
	block.push(batchOf(1, 2, 3), stop) // full queue, shutting down: must not hang
	if got := block.Stats().QueueDropped; got != 3 {
		t.Errorf("block at shutdown: %d dropped, want 3", got)
	}
}

// A recycled batch comes back empty, with its old records cleared so they
// no longer hold the block they pointed into, and its reference to the
// block released.
func TestRecycle(t *testing.T) {
	g := &Group{cfg: GroupConfig{QueueThreshold: 4}, spare: make(chan *Batch, 1), blocks: newBlockPool()}
	b := g.newBatch()
	if len(b.records) != 0 || cap(b.records) != 4 {
		t.Fatalf("new batch: len %d cap %d", len(b.records), cap(b.records))
	}
	blk := g.blocks.Get()
	b.block = blk
	blk.Hold(1)
	b.records = append(b.records, decode.Record{Payload: blk.Bytes[:1]}, decode.Record{Payload: blk.Bytes[1:2]})
	b.records = b.records[:1]
	g.Recycle(b)
	got := g.newBatch()
	if got != b || len(got.records) != 0 || got.block != nil {
		t.Fatal("the recycled batch was not reused empty")
	}
	for i, r := range got.records[:2] {
		if r.Payload != nil {
			t.Errorf("record %d still holds its payload", i)
		}
	}
	if n := blk.Refs(); n != 1 {
		t.Errorf("block has %d references after the recycle, want the reader's only", n)
	}
	g.Recycle(got)
	g.Recycle(&Batch{records: make([]decode.Record, 0, 4)}) // the spare list is full: dropped, no hang
}
