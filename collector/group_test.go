package collector

import (
	"testing"

	"github.com/nflog-agent/nflog-agent/decode"
)

func TestPushOverflowPolicy(t *testing.T) {
	drop := &Group{cfg: GroupConfig{Overflow: DropNewest}, out: make(chan decode.Record, 2)}
	stop := make(chan struct{})
	for i := range uint32(5) {
		drop.push(decode.Record{Seq: i}, stop)
	}
	if got := drop.Stats().QueueDropped; got != 3 {
		t.Errorf("drop newest: %d dropped, want 3", got)
	}
	if a, b := <-drop.out, <-drop.out; a.Seq != 0 || b.Seq != 1 {
		t.Errorf("drop newest kept %d, %d; want the oldest 0, 1", a.Seq, b.Seq)
	}

	// Block waits for room, and gives up (counting the record) at shutdown.
	block := &Group{cfg: GroupConfig{Overflow: Block}, out: make(chan decode.Record, 1)}
	block.push(decode.Record{}, stop)
	done := make(chan struct{})
	go func() { block.push(decode.Record{Seq: 1}, stop); close(done) }()
	<-block.out // room: the blocked push completes
	<-done
	if r := <-block.out; r.Seq != 1 || block.Stats().QueueDropped != 0 {
		t.Errorf("block: got seq %d, dropped %d", r.Seq, block.Stats().QueueDropped)
	}
	block.push(decode.Record{}, stop)
	close(stop)
	block.push(decode.Record{}, stop) // full queue, shutting down: must not hang
	if got := block.Stats().QueueDropped; got != 1 {
		t.Errorf("block at shutdown: %d dropped, want 1", got)
	}
}
