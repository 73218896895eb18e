package spool

import "sync"

// chunkList hands out the buffers a diskReader reads segment data into. The
// events a Read returns point into them and stay valid until the reader
// commits past them; only then may their bytes be read over. Reads fill a
// chunk from its start on, one after the other (a sink at a low rate reads
// a few events at a time), and a chunk is reused once every event read
// into it is committed: reading allocates nothing in the steady state.
type chunkList struct {
	mu        sync.Mutex
	cur       *chunk   // the chunk reads go into
	inUse     []*chunk // earlier chunks with events not yet committed
	free      [][]byte // at most maxFreeChunks, each readChunk long
	committed uint64   // the reader committed the events before this Seq
}

// chunk is a buffer, how much of it reads have taken, and the Seq after the
// last event read from it.
type chunk struct {
	buf  []byte
	used int
	end  uint64
}

// maxFreeChunks bounds the buffers kept for reuse (2 MiB): enough for the
// batches a sink has in flight.
const maxFreeChunks = 8

// get returns n bytes to read into, after those of the earlier reads. The
// events read into the buffer get returned before it (taken).
func (c *chunkList) get(n int) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur := c.cur; cur != nil {
		if cur.end <= c.committed {
			cur.used = 0 // every event read into it is committed
		}
		if len(cur.buf)-cur.used >= n {
			b := cur.buf[cur.used : cur.used+n : cur.used+n]
			cur.used += n
			return b
		}
		c.inUse = append(c.inUse, cur)
	}
	c.cur = &chunk{buf: c.newBuffer(n), used: n}
	return c.cur.buf[:n:n]
}

// newBuffer returns a free chunk, or a new one (larger for a record that
// does not fit one). c.mu is held.
func (c *chunkList) newBuffer(n int) []byte {
	if n <= readChunk && len(c.free) > 0 {
		b := c.free[len(c.free)-1]
		c.free = c.free[:len(c.free)-1]
		return b
	}
	return make([]byte, max(n, readChunk))
}

// taken notes that the events before Seq end may have been read into the
// buffer get returned last.
func (c *chunkList) taken(end uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil {
		c.cur.end = max(c.cur.end, end)
	}
}

// release notes that the reader committed the events before Seq seq, and
// frees the chunks that held only such events.
func (c *chunkList) release(seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.committed = max(c.committed, seq)
	kept := c.inUse[:0]
	for _, ch := range c.inUse {
		if ch.end > seq {
			kept = append(kept, ch)
			continue
		}
		if len(ch.buf) == readChunk && len(c.free) < maxFreeChunks {
			c.free = append(c.free, ch.buf)
		}
	}
	clear(c.inUse[len(kept):])
	c.inUse = kept
}
