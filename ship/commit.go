package ship

import (
	"sync"

	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// commitQueue commits a reader's position in order although batches finish
// out of order (several requests in flight): the position moves past a
// batch only when it and every batch before it are done.
type commitQueue struct {
	mu    sync.Mutex
	next  uint64 // id of the next batch
	low   uint64 // lowest id not yet committed
	ends  map[uint64]spool.Position
	done  map[uint64]bool
	cmu   sync.Mutex // orders calls to commit
	flush func(spool.Position) error
}

func newCommitQueue(flush func(spool.Position) error) *commitQueue {
	return &commitQueue{ends: map[uint64]spool.Position{}, done: map[uint64]bool{}, flush: flush}
}

// add registers a batch ending at end and returns its id.
func (q *commitQueue) add(end spool.Position) uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	id := q.next
	q.next++
	q.ends[id] = end
	return id
}

// finish marks batch id done and commits the furthest position it can.
func (q *commitQueue) finish(id uint64) error {
	q.mu.Lock()
	q.done[id] = true
	var pos spool.Position
	moved := false
	for q.done[q.low] {
		pos, moved = q.ends[q.low], true
		delete(q.done, q.low)
		delete(q.ends, q.low)
		q.low++
	}
	q.mu.Unlock()
	if !moved {
		return nil
	}
	q.cmu.Lock()
	defer q.cmu.Unlock()
	// A later position may have been committed meanwhile; readers ignore
	// positions behind their last commit.
	return q.flush(pos)
}
