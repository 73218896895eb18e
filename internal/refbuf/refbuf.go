// Package refbuf recycles large byte buffers that many small values point
// into: the NFLOG reader's blocks of datagrams, the blocks events are copied
// into before the queue. A buffer counts its holders, and when the last one
// lets go it goes back to its pool, so its bytes are written over only once
// nothing refers to them. Reusing them instead of leaving them to the
// garbage collector keeps a flood from making garbage.
package refbuf

import "sync/atomic"

// Buffer is a pooled byte buffer and the count of its holders.
type Buffer struct {
	Bytes []byte
	refs  atomic.Int32
	pool  *Pool
}

// Pool makes buffers of one size and keeps some of those freed for reuse.
type Pool struct {
	size int
	free chan *Buffer
}

// NewPool returns a pool of buffers of size bytes that keeps up to keep
// freed ones; a buffer freed when it holds that many is left to the
// garbage collector.
func NewPool(size, keep int) *Pool {
	return &Pool{size: size, free: make(chan *Buffer, keep)}
}

// Get returns a freed buffer, or a new one, with one reference: the
// caller's. Its content is whatever it held before.
func (p *Pool) Get() *Buffer {
	var b *Buffer
	select {
	case b = <-p.free:
	default:
		b = &Buffer{Bytes: make([]byte, p.size), pool: p}
	}
	b.refs.Store(1)
	return b
}

// Free is how many freed buffers p keeps now.
func (p *Pool) Free() int { return len(p.free) }

// Hold adds n references to b.
func (b *Buffer) Hold(n int32) { b.refs.Add(n) }

// Release drops one reference to b (nil: none), and with the last one puts
// b back in its pool.
func (b *Buffer) Release() {
	if b == nil || b.refs.Add(-1) != 0 {
		return
	}
	select {
	case b.pool.free <- b:
	default:
	}
}

// Refs is how many references b has.
func (b *Buffer) Refs() int32 { return b.refs.Load() }
