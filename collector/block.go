package collector

import "sync/atomic"

// Datagrams are read into blocks. The kernel's batch buffer is asked for
// at nlBufSize bytes at bind, but its allocator rounds that up to 128 KiB,
// which the kernel fills when the queue threshold allows: 1 KiB messages
// came in datagrams of up to 130196 bytes. A single message (the copy
// range is at most 64 KiB) is smaller. Each read goes into the free tail
// of a block of blockSize bytes, which must have at least maxDatagram left.
const (
	nlBufSize   = 64 << 10
	maxDatagram = 128 << 10
	blockSize   = 1 << 20
)

// spareBlocks is how many free blocks a Group keeps for its reader. In
// steady state the reader and the consumer are within a block or two of
// each other; a few more absorb a small backlog. Blocks freed by the
// catch-up after a long backlog go to the garbage collector rather than
// stay live under the memory limit.
const spareBlocks = 4

// A block is memory the reader reads datagrams into, one after the other,
// and that the records of their batches point into. It is reused, not left
// to the garbage collector, once nothing points into it: refs counts the
// reader while the block is its current one, plus each batch of records in
// it not yet recycled. A batch that is never recycled keeps its block from
// being reused, and the garbage collector frees both.
type block struct {
	buf  []byte
	refs atomic.Int32
	pool blockPool // where the block goes back when free
}

// blockPool is a Group's free blocks: the reader takes from it, and a block
// goes back when its last reference is released, by the reader or by
// whoever recycles its last batch.
type blockPool chan *block

func newBlockPool() blockPool { return make(blockPool, spareBlocks) }

// get returns a block with one reference, the caller's.
func (p blockPool) get() *block {
	var b *block
	select {
	case b = <-p:
	default:
		b = &block{buf: make([]byte, blockSize), pool: p}
	}
	b.refs.Store(1)
	return b
}

// hold adds a reference to b.
func (b *block) hold() { b.refs.Add(1) }

// release drops a reference to b, and when it was the last puts b back in
// its pool: nothing reads the block's bytes any more, so the reader may
// overwrite them. A full pool leaves b to the garbage collector.
func (b *block) release() {
	if b.refs.Add(-1) != 0 {
		return
	}
	select {
	case b.pool <- b:
	default:
	}
}

// readCursor is the reader's current block and where its free tail starts.
type readCursor struct {
	pool  blockPool
	block *block
	off   int
}

// tail returns the free space for the next datagram, moving to a fresh
// block when the current one has less than maxDatagram left.
func (c *readCursor) tail() []byte {
	if c.block == nil || len(c.block.buf)-c.off < maxDatagram {
		c.close()
		c.block, c.off = c.pool.get(), 0
	}
	return c.block.buf[c.off:]
}

// keep marks the first n bytes of the tail as used: records point into
// them. Bytes not kept are overwritten by the next read.
func (c *readCursor) keep(n int) {
	c.off += (n + 7) &^ 7
}

// close gives up the reader's reference to its current block.
func (c *readCursor) close() {
	if c.block != nil {
		c.block.release()
		c.block = nil
	}
}
