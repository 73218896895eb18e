package ship

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A dead collector is warned about at its first failed request, not once
// the HTTP client's retries are spent: with an hour before the first retry,
// the warning can only come from the first attempt.
func TestHTTPOutageWarnedAtFirstFailedRequest(t *testing.T) {
	var requests atomic.Int64
	srv, ca := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	cfg := httpSinkConfig(srv.URL+"/ingest", ca)
	cfg.Retry = RetryConfig{InitialBackoff: time.Hour, MaxBackoff: time.Hour, MaxRetryAfter: time.Hour, Attempts: 5}
	h := startShipper(t, nil, cfg)
	h.append(testEvents(1))
	waitFor(t, "the warning", func() bool { return strings.Contains(h.logs.String(), "sink unavailable") })
	if n := requests.Load(); n != 1 {
		t.Errorf("%d requests before the warning, want 1", n)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "HTTP 503 from") || strings.Count(logs, "sink unavailable") != 1 {
		t.Errorf("logs:\n%s", logs)
	}
	if st := h.s.Stats()[0]; st.FailingSince.IsZero() {
		t.Errorf("not failing after a failed request: %+v", st)
	}
	h.stop(time.Millisecond) // abandons the batch waiting for its retry
}
