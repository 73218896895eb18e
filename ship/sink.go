package ship

import (
	"context"
	"errors"
)

// A Sink delivers batches of events to one destination. Send is called from
// several goroutines at once (up to the sink's concurrency) with disjoint
// batches; it must not keep the events after it returns.
//
// Send returns an error when the batch as a whole was not delivered: the
// runner retries it (after a backoff) unless the error is permanent
// ([*StatusError] with a 4xx status other than 408 and 429) or asks for a
// split ([ErrTooLarge]). With a nil error, Result says which events were
// not delivered and why.
type Sink interface {
	Send(ctx context.Context, events []Event) (Result, error)
}

// Result is the per-event outcome of a Send that reached the destination.
// Events not listed were delivered.
type Result struct {
	Retry      []int       // indexes of events to send again, alone, after a backoff
	Rejected   []Rejection // events refused for good
	Duplicates int         // events the destination already had (counted as delivered)
}

// Rejection is one event the destination refused for good.
type Rejection struct {
	Index  int
	Reason string // a Fail* counter reason
	Detail string // what the destination said, for the log
}

// Reasons an event is given up on, as used in Stats.Failed.
const (
	FailRejected     = "rejected"      // the request was refused with a 4xx status
	FailItemRejected = "item_rejected" // the destination refused this event (per-item status)
	FailTooLarge     = "too_large"     // over the destination's size limit, even alone
)

// ErrTooLarge is matched by errors a Send returns when the destination found
// the request too large (HTTP 413): the runner splits the batch in two and
// sends each half; an event that is too large alone is counted and dropped.
var ErrTooLarge = errors.New("ship: request too large")

// reopener is implemented by sinks that hold files, for logrotate.
type reopener interface{ Reopen() error }
