package ship

import (
	"sync/atomic"
	"time"
)

// Stats is a snapshot of one sink's counters. Every event appended to the
// spool ends up, for each sink, in exactly one of Sent, Failed, Dropped or
// SpoolPending.
type Stats struct {
	Sink string
	Type string

	Sent       uint64            // events delivered (Duplicates included)
	Duplicates uint64            // delivered events the destination already had
	Failed     map[string]uint64 // events given up on, by Fail* reason
	Dropped    map[string]uint64 // events the sink never got, by spool.Drop* reason
	Retried    uint64            // requests sent again (whole or with the retried items)

	// SendErrors counts failed attempts by kind: network, timeout, tls,
	// redirect, http_408, http_429, http_5xx, http_4xx, bad_response, write.
	SendErrors map[string]uint64
	Requests   uint64        // HTTP attempts made
	Latency    time.Duration // sum of their durations: Latency/Requests is the mean
	// LatencyBuckets[i] counts the attempts that took at most
	// LatencyBounds[i] (cumulative, as a Prometheus histogram wants it).
	LatencyBuckets []uint64
	LastError      string // most recent failed attempt, secrets removed, printable
	// FailingSince is when the current run of failed attempts began (the
	// first failure since the last success); zero while the sink works.
	FailingSince time.Time
	// Blocked is why the sink waits for the operator (a Block* reason),
	// "" when it does not: its events stay queued meanwhile.
	Blocked string

	SpoolPending   uint64        // events not yet committed
	SpoolBytes     int64         // their size in the spool
	SpoolOldestAge time.Duration // age of the oldest of them
}

// LatencyBounds are the upper bounds of the request latency buckets.
var LatencyBounds = []time.Duration{
	5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second,
	2500 * time.Millisecond, 5 * time.Second, 10 * time.Second, 30 * time.Second,
}

// counters are a sink's live counters: plain atomics, read by Stats.
type counters struct {
	sent, duplicates, retried, requests, latency atomic.Uint64
	latencyBuckets                               [12]atomic.Uint64 // per LatencyBounds, not cumulative
	failed                                       keyedCounters
	sendErrors                                   keyedCounters
	lastErr                                      atomic.Pointer[string]
	failingSince                                 atomic.Int64 // unix nanoseconds; 0 = not failing
	blocked                                      atomic.Pointer[string]
	// retrying, set before the sink starts, hears of each failed attempt
	// the HTTP client is about to retry: the outage is then known at its
	// first request, not after the last retry.
	retrying func(error)
}

// Reasons a sink is blocked, as in Stats.Blocked.
const (
	BlockAuth     = "auth"     // the destination refused the credentials
	BlockRedirect = "redirect" // the destination redirects elsewhere
)

// BlockReasons lists every Block* reason.
var BlockReasons = []string{BlockAuth, BlockRedirect}

// observe counts one request attempt of duration d.
func (c *counters) observe(d time.Duration) {
	c.requests.Add(1)
	c.latency.Add(uint64(d))
	for i, bound := range LatencyBounds {
		if d <= bound {
			c.latencyBuckets[i].Add(1)
			break
		}
	}
}

// keyedCounters is a small fixed set of named counters, safe for concurrent
// use without locks once created.
type keyedCounters struct {
	names []string
	vals  []atomic.Uint64
}

func newKeyed(names ...string) keyedCounters {
	return keyedCounters{names: names, vals: make([]atomic.Uint64, len(names))}
}

func (k *keyedCounters) add(name string, n uint64) {
	for i, v := range k.names {
		if v == name {
			k.vals[i].Add(n)
			return
		}
	}
	// An unknown name is a bug; count it under the last name ("other")
	// rather than lose it.
	k.vals[len(k.vals)-1].Add(n)
}

func (k *keyedCounters) snapshot() map[string]uint64 {
	m := make(map[string]uint64, len(k.names))
	for i, name := range k.names {
		if v := k.vals[i].Load(); v > 0 {
			m[name] = v
		}
	}
	return m
}

// Send error kinds.
const (
	errNetwork     = "network"
	errTimeout     = "timeout"
	errTLS         = "tls"
	errRedirect    = "redirect"
	errHTTP408     = "http_408"
	errHTTP429     = "http_429"
	errHTTP5xx     = "http_5xx"
	errHTTP4xx     = "http_4xx"
	errBadResponse = "bad_response"
	errWrite       = "write"
	errOther       = "other"
)

func newCounters() *counters {
	return &counters{
		failed:     newKeyed(FailRejected, FailItemRejected, FailTooLarge, errOther),
		sendErrors: newKeyed(errNetwork, errTimeout, errTLS, errRedirect, errHTTP408, errHTTP429, errHTTP5xx, errHTTP4xx, errBadResponse, errWrite, errOther),
	}
}

// setLastErr keeps s, made printable: it may quote the server, and it is
// shown by /healthz.
func (c *counters) setLastErr(s string) {
	s = Printable(s, 2*maxQuoted)
	c.lastErr.Store(&s)
}

// setBlocked records why the sink is blocked ("" when it is not) and
// returns the previous reason.
func (c *counters) setBlocked(reason string) (previous string) {
	if p := c.blocked.Swap(&reason); p != nil {
		return *p
	}
	return ""
}

func (c *counters) snapshot() Stats {
	st := Stats{
		Sent: c.sent.Load(), Duplicates: c.duplicates.Load(), Retried: c.retried.Load(),
		Failed: c.failed.snapshot(), SendErrors: c.sendErrors.snapshot(),
		Requests: c.requests.Load(), Latency: time.Duration(c.latency.Load()),
	}
	var cum uint64
	for i := range c.latencyBuckets {
		cum += c.latencyBuckets[i].Load()
		st.LatencyBuckets = append(st.LatencyBuckets, cum)
	}
	if p := c.lastErr.Load(); p != nil {
		st.LastError = *p
	}
	if ns := c.failingSince.Load(); ns != 0 {
		st.FailingSince = time.Unix(0, ns)
	}
	if p := c.blocked.Load(); p != nil {
		st.Blocked = *p
	}
	return st
}
