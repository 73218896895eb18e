package spool

import "sync"

// chunkList recycles the buffers a diskReader reads segment data into. The
// events a Read returns point into them, and stay valid until the reader
// commits past them; only then can a buffer be read into again. Reusing
// them saves allocating and zeroing a quarter of a megabyte for every few
// hundred events a sink sends.
type chunkList struct {
	mu    sync.Mutex
	inUse []usedChunk // in the order they were read
	free  [][]byte    // at most maxFreeChunks, each readChunk long
}

// usedChunk is a buffer holding the events before Seq end (and after the
// last Commit).
type usedChunk struct {
	buf []byte
	end uint64
}

// maxFreeChunks bounds the buffers kept for reuse (2 MiB): enough for a
// sink's batch of a few thousand events.
const maxFreeChunks = 8

// get returns a buffer of n bytes, its content undefined.
func (c *chunkList) get(n int) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n <= readChunk && len(c.free) > 0 {
		b := c.free[len(c.free)-1]
		c.free = c.free[:len(c.free)-1]
		return b[:n]
	}
	return make([]byte, n, max(n, readChunk))
}

// retire notes that buf holds the events from Seq from to end (exclusive);
// a buffer no event came from can be read into at once.
func (c *chunkList) retire(buf []byte, from, end uint64) {
	if buf == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if end > from {
		c.inUse = append(c.inUse, usedChunk{buf: buf, end: end})
		return
	}
	c.put(buf)
}

// release frees the buffers whose events all come before Seq seq: the
// reader committed them.
func (c *chunkList) release(seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := 0
	for i < len(c.inUse) && c.inUse[i].end <= seq {
		c.put(c.inUse[i].buf)
		c.inUse[i] = usedChunk{}
		i++
	}
	c.inUse = append(c.inUse[:0], c.inUse[i:]...)
}

// put keeps buf for reuse if it is a whole chunk and there is room; c.mu is
// held.
func (c *chunkList) put(buf []byte) {
	if cap(buf) == readChunk && len(c.free) < maxFreeChunks {
		c.free = append(c.free, buf[:cap(buf)])
	}
}
