package collector

import "github.com/nflog-agent/nflog-agent/internal/refbuf"

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

// newBlockPool returns a Group's pool of free blocks. A block's references
// are the reader's while it is its current one, plus one per batch of
// records in it not yet recycled. A batch that is never recycled keeps its
// block from being reused, and the garbage collector frees both.
func newBlockPool() *refbuf.Pool { return refbuf.NewPool(blockSize, spareBlocks) }

// readCursor is the reader's current block and where its free tail starts.
type readCursor struct {
	pool  *refbuf.Pool
	block *refbuf.Buffer
	off   int
}

// tail returns the free space for the next datagram, moving to a fresh
// block when the current one has less than maxDatagram left.
func (c *readCursor) tail() []byte {
	if c.block == nil || len(c.block.Bytes)-c.off < maxDatagram {
		c.close()
		c.block, c.off = c.pool.Get(), 0
	}
	return c.block.Bytes[c.off:]
}

// keep marks the first n bytes of the tail as used: records point into
// them. Bytes not kept are overwritten by the next read.
func (c *readCursor) keep(n int) {
	c.off += (n + 7) &^ 7
}

// close gives up the reader's reference to its current block.
func (c *readCursor) close() {
	if c.block != nil {
		c.block.Release()
		c.block = nil
	}
}
