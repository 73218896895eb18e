package ship

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// refusal is one scripted failed answer: a status and its Retry-After
// header ("" for none), computed when the request arrives.
type refusal struct {
	code       int
	retryAfter func() string
}

// scriptedServer answers the first requests with the script's refusals and
// the later ones with 200, recording their events. It returns when each
// request arrived.
func scriptedServer(t *testing.T, rcv *receiver, script []refusal) (srvURL, ca string, arrivals func() []time.Time) {
	var (
		mu    sync.Mutex
		times []time.Time
		n     atomic.Int64
	)
	srv, ca := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		now := time.Now()
		mu.Lock()
		times = append(times, now)
		mu.Unlock()
		body := readBody(t, req)
		if i := int(n.Add(1) - 1); i < len(script) {
			if ra := script[i].retryAfter; ra != nil {
				w.Header().Set("Retry-After", ra())
			}
			w.WriteHeader(script[i].code)
			return
		}
		rcv.record(req, body, ndjsonIDs(t, body))
	}))
	return srv.URL, ca, func() []time.Time {
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Time(nil), times...)
	}
}

func repeat(n int, r refusal) []refusal {
	s := make([]refusal, n)
	for i := range s {
		s[i] = r
	}
	return s
}

// Every wait before another attempt at a batch honours the last answer's
// Retry-After (capped by max_retry_after), whether go-retryablehttp makes
// the attempt or the runner does once retry.attempts are used up; without
// one, the backoff keeps growing over all the batch's requests. The gaps
// between the requests' arrivals are checked against lower bounds only.
func TestRetryAfterEveryLayer(t *testing.T) {
	seconds := func(v string) func() string { return func() string { return v } }
	for _, tc := range []struct {
		name   string
		script []refusal
		retry  RetryConfig
		least  []time.Duration // the least gap after each refusal
	}{
		{
			name:   "429 Retry-After seconds, past the attempts",
			script: repeat(3, refusal{http.StatusTooManyRequests, seconds("2")}),
			retry:  RetryConfig{InitialBackoff: 100 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, MaxRetryAfter: time.Minute, Attempts: 2},
			least:  []time.Duration{2 * time.Second, 2 * time.Second, 2 * time.Second},
		},
		{
			// An HTTP date has whole seconds: 3s ahead is at least 2s.
			name: "503 Retry-After HTTP date, past the attempts",
			script: repeat(3, refusal{http.StatusServiceUnavailable, func() string {
				return time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat)
			}}),
			retry: RetryConfig{InitialBackoff: 100 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, MaxRetryAfter: time.Minute, Attempts: 1},
			least: []time.Duration{2 * time.Second, 2 * time.Second, 2 * time.Second},
		},
		{
			name:   "Retry-After capped by max_retry_after",
			script: repeat(3, refusal{http.StatusTooManyRequests, seconds("3600")}),
			retry:  RetryConfig{InitialBackoff: 100 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, MaxRetryAfter: 1500 * time.Millisecond, Attempts: 2},
			least:  []time.Duration{1500 * time.Millisecond, 1500 * time.Millisecond, 1500 * time.Millisecond},
		},
		{
			// Half of initial·2ⁿ at least (jitter), up to half of max.
			name:   "backoff grows across requests",
			script: repeat(6, refusal{http.StatusServiceUnavailable, nil}),
			retry:  RetryConfig{InitialBackoff: 200 * time.Millisecond, MaxBackoff: 1600 * time.Millisecond, MaxRetryAfter: time.Minute, Attempts: 2},
			least: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
				800 * time.Millisecond, 800 * time.Millisecond, 800 * time.Millisecond},
		},
		{
			// Retry-After asks for less than the backoff reached: it is
			// what the server wants, and the backoff resumes after it.
			name: "Retry-After in the middle of a backoff",
			script: []refusal{{503, nil}, {503, nil}, {503, nil}, {429, seconds("1")},
				{503, nil}},
			retry: RetryConfig{InitialBackoff: 400 * time.Millisecond, MaxBackoff: 3200 * time.Millisecond, MaxRetryAfter: time.Minute, Attempts: 2},
			least: []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond,
				time.Second, 1600 * time.Millisecond},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rcv := newReceiver(3)
			url, ca, arrivals := scriptedServer(t, rcv, tc.script)
			c := httpSinkConfig(url, ca)
			c.Retry = tc.retry
			h := startShipper(t, nil, c)
			h.append(testEvents(3))
			rcv.wait(t)
			st := h.finalStats()
			at := arrivals()
			if st.Sent != 3 || len(at) != len(tc.script)+1 || st.Retried != uint64(len(tc.script)) {
				t.Fatalf("%d requests, stats %+v", len(at), st)
			}
			for i, least := range tc.least {
				if gap := at[i+1].Sub(at[i]); gap < least {
					t.Errorf("gap after refusal %d (attempt %d of its request): %v, want at least %v",
						i+1, i%tc.retry.Attempts+1, gap, least)
				}
			}
		})
	}
}
