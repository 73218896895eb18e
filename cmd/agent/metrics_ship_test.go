package main

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nflog-agent/nflog-agent/ship"
)

// The sink latency histogram is read from ship.Stats at scrape time.
func TestLatencyCollector(t *testing.T) {
	buckets := make([]uint64, len(ship.LatencyBounds))
	for i := range buckets {
		buckets[i] = 2
	}
	buckets[0] = 1
	stats := func() []ship.Stats {
		return []ship.Stats{{Sink: "es", Requests: 2, Latency: 30 * time.Millisecond, LatencyBuckets: buckets}}
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(newLatencyCollector(stats))
	families, err := reg.Gather()
	if err != nil || len(families) != 1 {
		t.Fatalf("gather: %d families, %v", len(families), err)
	}
	f := families[0]
	if f.GetName() != "nflog_agent_sink_request_duration_seconds" || len(f.Metric) != 1 {
		t.Fatalf("family %s with %d metrics", f.GetName(), len(f.Metric))
	}
	m := f.Metric[0]
	if l := m.GetLabel(); len(l) != 1 || l[0].GetName() != "sink" || l[0].GetValue() != "es" {
		t.Errorf("labels %v", l)
	}
	h := m.GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() != 0.03 || len(h.Bucket) != len(ship.LatencyBounds) {
		t.Fatalf("histogram count %d sum %v buckets %d", h.GetSampleCount(), h.GetSampleSum(), len(h.Bucket))
	}
	for i, b := range h.Bucket {
		if b.GetUpperBound() != ship.LatencyBounds[i].Seconds() || b.GetCumulativeCount() != buckets[i] {
			t.Errorf("bucket %d: le=%v count %d", i, b.GetUpperBound(), b.GetCumulativeCount())
		}
	}
}
