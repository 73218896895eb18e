package ship

import (
	"testing"
	"time"
)

// Request latencies land in cumulative buckets, as a Prometheus histogram
// reads them, and in the count and sum.
func TestLatencyBuckets(t *testing.T) {
	var c counters
	for _, d := range []time.Duration{time.Millisecond, 7 * time.Millisecond, 300 * time.Millisecond, time.Minute} {
		c.observe(d)
	}
	st := c.snapshot()
	if st.Requests != 4 || st.Latency != time.Minute+308*time.Millisecond {
		t.Errorf("requests %d, latency %v", st.Requests, st.Latency)
	}
	want := map[time.Duration]uint64{5 * time.Millisecond: 1, 10 * time.Millisecond: 2, 250 * time.Millisecond: 2,
		500 * time.Millisecond: 3, 30 * time.Second: 3}
	for i, bound := range LatencyBounds {
		if n, ok := want[bound]; ok && st.LatencyBuckets[i] != n {
			t.Errorf("bucket ≤%v = %d, want %d", bound, st.LatencyBuckets[i], n)
		}
	}
}
