package refbuf

import "testing"

// A buffer goes back to its pool with its last reference, not before, and
// the pool keeps no more than it was told to.
func TestBufferReturnsWithItsLastReference(t *testing.T) {
	p := NewPool(16, 2)
	b := p.Get()
	b.Hold(2)
	b.Release()
	b.Release()
	if p.Free() != 0 {
		t.Fatal("back in the pool while a reference was left")
	}
	b.Release()
	if got := p.Get(); got != b || got.Refs() != 1 {
		t.Fatalf("Get after the last release: %p with %d references, want %p with 1", got, got.Refs(), b)
	}
	var many []*Buffer
	for range 4 {
		many = append(many, p.Get())
	}
	for _, b := range many {
		b.Release()
	}
	if p.Free() != 2 {
		t.Fatalf("pool keeps %d buffers, want 2", p.Free())
	}
	var none *Buffer
	none.Release() // an event with its own allocation has no buffer
}
