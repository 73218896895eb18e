package promsnap

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type sinkStats struct {
	Name   string
	Sent   uint64
	Failed map[string]uint64
	Bytes  int64
}

// A table over a snapshot type, with an extra label, as a sink's metrics
// would be declared.
func TestCollector(t *testing.T) {
	snap := []sinkStats{{Name: "siem", Sent: 7, Failed: map[string]uint64{"rejected": 2}, Bytes: 4096}, {Name: "file", Sent: 3}}
	calls := 0
	c := New("sink", func() []sinkStats { calls++; return snap }, func(s *sinkStats) string { return s.Name },
		Metric[sinkStats]{Name: "x_sent_events_total", Help: "Sent.", Kind: Counter,
			Value: func(s *sinkStats, emit func(float64, ...string)) { emit(float64(s.Sent)) }},
		Metric[sinkStats]{Name: "x_failed_events_total", Help: "Failed.", Kind: Counter, Labels: []string{"reason"},
			Value: func(s *sinkStats, emit func(float64, ...string)) {
				for _, r := range []string{"rejected", "too_large"} {
					emit(float64(s.Failed[r]), r)
				}
			}},
		Metric[sinkStats]{Name: "x_spool_bytes", Help: "Spool.", Kind: Gauge,
			Value: func(s *sinkStats, emit func(float64, ...string)) { emit(float64(s.Bytes)) }},
	)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	want := `# HELP x_failed_events_total Failed.
# TYPE x_failed_events_total counter
x_failed_events_total{reason="rejected",sink="file"} 0
x_failed_events_total{reason="rejected",sink="siem"} 2
x_failed_events_total{reason="too_large",sink="file"} 0
x_failed_events_total{reason="too_large",sink="siem"} 0
# HELP x_sent_events_total Sent.
# TYPE x_sent_events_total counter
x_sent_events_total{sink="file"} 3
x_sent_events_total{sink="siem"} 7
# HELP x_spool_bytes Spool.
# TYPE x_spool_bytes gauge
x_spool_bytes{sink="file"} 0
x_spool_bytes{sink="siem"} 4096
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if calls != 1 {
		t.Errorf("%d snapshots for one scrape, want 1", calls)
	}
}

// A table bug (wrong number of label values) shows in the scrape instead of
// crashing the agent.
func TestCollectorBadLabels(t *testing.T) {
	c := New("sink", func() []sinkStats { return []sinkStats{{Name: "a"}} }, func(s *sinkStats) string { return s.Name },
		Metric[sinkStats]{Name: "x_total", Help: "X.", Labels: []string{"reason"},
			Value: func(s *sinkStats, emit func(float64, ...string)) { emit(1) }})
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	if _, err := reg.Gather(); err == nil || !strings.Contains(err.Error(), "promsnap x_total") {
		t.Errorf("gather: %v", err)
	}
}
