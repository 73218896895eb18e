package ship

import (
	"context"
	"errors"
)

// A sink delivers batches of events to one destination; the sink types are
// a closed set, chosen by buildSink. Send is called from several goroutines
// at once (up to the sink's concurrency) with disjoint batches; it must not
// keep the events after it returns.
//
// Send returns an error when the batch as a whole was not delivered. The
// runner keeps the batch and tries it again after a backoff, at
// MaxBackoff while the error matches errUnauthorized or errRedirected;
// it splits the batch on errTooLarge or a *statusError that is
// statusError.Refused, until the events refused alone are isolated and
// dropped. With a nil error, result says which events were not delivered
// and why.
type sink interface {
	Send(ctx context.Context, events []Event) (result, error)
}

// result is the per-event outcome of a Send that reached the destination.
// Events not listed were delivered.
type result struct {
	Retry      []int       // indexes of events to send again, alone, after a backoff
	Rejected   []rejection // events refused for good
	Duplicates int         // events the destination already had (counted as delivered)
}

// rejection is one event the destination refused for good.
type rejection struct {
	Index  int
	Reason string // a Fail* counter reason
	Detail string // what the destination said, for the log
}

// Reasons an event is given up on, as used in Stats.Failed.
const (
	FailRejected     = "rejected"      // refused alone with a 4xx status (other than 401, 403, 407, 408, 413, 429)
	FailItemRejected = "item_rejected" // the destination refused this event (per-item status)
	FailTooLarge     = "too_large"     // over the destination's size limit, even alone
)

// errTooLarge is matched by errors a Send returns when the destination found
// the request too large (HTTP 413): the runner splits the batch in two and
// sends each half; an event that is too large alone is counted and dropped.
var errTooLarge = errors.New("ship: request too large")

// errUnauthorized is matched by errors a Send returns when the destination
// refused the credentials (HTTP 401, 403, 407, or what a sink knows to be
// a key error): the events are not at fault, so they stay queued and the
// sink is reported blocked until the operator mends the key.
var errUnauthorized = errors.New("ship: credentials refused")

// errRedirected is matched by errors a Send returns when the destination
// answered with a redirect, which is never followed: it could carry the
// credentials elsewhere. The events stay queued and the sink is reported
// blocked until its url is corrected.
var errRedirected = errors.New("ship: redirected")

// reopener is implemented by sinks that hold files, for logrotate.
type reopener interface{ Reopen() error }
