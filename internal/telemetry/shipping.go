package telemetry

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nflog-agent/nflog-agent/internal/telemetry/promsnap"
	"github.com/nflog-agent/nflog-agent/ship"
	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// DecodeStats counts, per group, what the decode stage loses: the records
// the encoder panicked on and the decoded events the buffer in front of the
// spool had no room for. (The collector counts what is lost before it: the
// messages it cannot parse.) Its counters are safe for concurrent use.
type DecodeStats struct {
	groups []uint16
	counts []DecodeCounters
}

// DecodeCounters are one group's decode-stage counters.
type DecodeCounters struct {
	EncoderPanics atomic.Uint64
	SpoolDropped  atomic.Uint64
}

// GroupDecode is one group's DecodeCounters, read.
type GroupDecode struct {
	Group                       uint16
	EncoderPanics, SpoolDropped uint64
}

// RegisterDecodeStats exports a DecodeStats with counters for each group,
// in the order of groups.
func (t *Telemetry) RegisterDecodeStats(groups []uint16) (*DecodeStats, error) {
	d := &DecodeStats{groups: groups, counts: make([]DecodeCounters, len(groups))}
	err := t.register(promsnap.New("group", d.Totals,
		func(g *GroupDecode) string { return strconv.Itoa(int(g.Group)) }, decodeMetrics...))
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Group is the counters of the i-th group.
func (d *DecodeStats) Group(i int) *DecodeCounters { return &d.counts[i] }

// Totals reads every group's counters.
func (d *DecodeStats) Totals() []GroupDecode {
	out := make([]GroupDecode, len(d.groups))
	for i, g := range d.groups {
		c := &d.counts[i]
		out[i] = GroupDecode{Group: g, EncoderPanics: c.EncoderPanics.Load(), SpoolDropped: c.SpoolDropped.Load()}
	}
	return out
}

var decodeMetrics = []promsnap.Metric[GroupDecode]{
	counter("encoder_panics_total", "Records dropped because the encoder panicked on them: a decoder bug, logged with the record at most once a minute.",
		func(s *GroupDecode) uint64 { return s.EncoderPanics }),
	counter("spool_dropped_events_total", "Decoded events dropped because the buffer in front of the spool was full (the spool could not keep up).",
		func(s *GroupDecode) uint64 { return s.SpoolDropped }),
}

// sinkMetrics are the per-sink metrics, read from ship.Stats at scrape time.
var sinkMetrics = []promsnap.Metric[ship.Stats]{
	sinkCounter("sink_sent_events_total", "Events the sink delivered (duplicates included).",
		func(s *ship.Stats) uint64 { return s.Sent }),
	sinkCounter("sink_duplicate_events_total", "Delivered events the destination already had.",
		func(s *ship.Stats) uint64 { return s.Duplicates }),
	sinkKeyed("sink_failed_events_total", "Events given up on, by reason (the destination refused them).", "reason",
		func(s *ship.Stats) map[string]uint64 { return s.Failed }),
	sinkKeyed("sink_dropped_events_total", "Events the sink never got, by reason (spool cap, corruption, memory queue full or lost at stop).", "reason",
		func(s *ship.Stats) map[string]uint64 { return s.Dropped }),
	sinkCounter("sink_retries_total", "Requests sent again.",
		func(s *ship.Stats) uint64 { return s.Retried }),
	sinkKeyed("sink_send_errors_total", "Failed send attempts, by kind.", "kind",
		func(s *ship.Stats) map[string]uint64 { return s.SendErrors }),
	sinkCounter("sink_requests_total", "HTTP requests made.",
		func(s *ship.Stats) uint64 { return s.Requests }),
	sinkGauge("sink_pending_events", "Events appended to the spool and not yet delivered or given up on by the sink.",
		func(s *ship.Stats) float64 { return float64(s.SpoolPending) }),
	sinkGauge("spool_bytes", "Bytes of the sink's pending events in the spool.",
		func(s *ship.Stats) float64 { return float64(s.SpoolBytes) }),
	sinkGauge("spool_oldest_event_age_seconds", "Age of the sink's oldest pending event; 0 when none.",
		func(s *ship.Stats) float64 { return s.SpoolOldestAge.Seconds() }),
	sinkGauge("sink_failing", "1 while the sink's attempts fail (since its last success), else 0.",
		func(s *ship.Stats) float64 {
			if s.FailingSince.IsZero() {
				return 0
			}
			return 1
		}),
	{Name: metricPrefix + "sink_blocked", Kind: promsnap.Gauge, Labels: []string{"reason"},
		Help: "1 for the reason the sink waits for the operator (auth: credentials refused; redirect: the url redirects), else 0. Its events stay queued.",
		Value: func(s *ship.Stats, emit func(float64, ...string)) {
			for _, reason := range ship.BlockReasons {
				v := 0.0
				if s.Blocked == reason {
					v = 1
				}
				emit(v, reason)
			}
		}},
}

func sinkCounter(name, help string, get func(*ship.Stats) uint64) promsnap.Metric[ship.Stats] {
	return promsnap.Metric[ship.Stats]{Name: metricPrefix + name, Help: help, Kind: promsnap.Counter,
		Value: func(s *ship.Stats, emit func(float64, ...string)) { emit(float64(get(s))) }}
}

func sinkGauge(name, help string, get func(*ship.Stats) float64) promsnap.Metric[ship.Stats] {
	return promsnap.Metric[ship.Stats]{Name: metricPrefix + name, Help: help, Kind: promsnap.Gauge,
		Value: func(s *ship.Stats, emit func(float64, ...string)) { emit(get(s)) }}
}

func sinkKeyed(name, help, label string, get func(*ship.Stats) map[string]uint64) promsnap.Metric[ship.Stats] {
	return promsnap.Metric[ship.Stats]{Name: metricPrefix + name, Help: help, Kind: promsnap.Counter, Labels: []string{label},
		Value: func(s *ship.Stats, emit func(float64, ...string)) {
			for k, v := range get(s) {
				emit(float64(v), k)
			}
		}}
}

func sinkID(s *ship.Stats) string { return s.Sink }

// latencyCollector exposes each sink's request latency histogram, read from
// ship.Stats at scrape time like the other sink metrics.
type latencyCollector struct {
	stats func() []ship.Stats
	desc  *prometheus.Desc
}

func newLatencyCollector(stats func() []ship.Stats) *latencyCollector {
	return &latencyCollector{stats: stats, desc: prometheus.NewDesc(metricPrefix+"sink_request_duration_seconds",
		"Duration of the sink's HTTP request attempts.", []string{"sink"}, nil)}
}

func (c *latencyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *latencyCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.stats() {
		buckets := make(map[float64]uint64, len(ship.LatencyBounds))
		for i, b := range ship.LatencyBounds {
			buckets[b.Seconds()] = s.LatencyBuckets[i]
		}
		ch <- prometheus.MustNewConstHistogram(c.desc, s.Requests, s.Latency.Seconds(), buckets, s.Sink)
	}
}

// spoolCollector exposes the queue-wide counters of q.Stats, unlabelled
// or by reason.
type spoolCollector struct {
	q                                      spool.Queue
	appended, lost, tornTails, tornBytes   *prometheus.Desc
	appendErrors, cursorErrors, removeErrs *prometheus.Desc
	degraded, bytes, count                 *prometheus.Desc
}

func newSpoolCollector(q spool.Queue) *spoolCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(metricPrefix+name, help, labels, nil)
	}
	return &spoolCollector{q: q,
		appended:     d("spool_appended_events_total", "Events stored in the spool (or the in-memory queue)."),
		lost:         d("spool_lost_events_total", "Events the spool failed to store, by reason.", "reason"),
		tornTails:    d("spool_torn_tails_total", "Torn or corrupt segment tails cut off when the spool was opened (after a crash)."),
		tornBytes:    d("spool_torn_bytes_total", "Bytes of the torn tails cut off when the spool was opened: records whose append never returned."),
		appendErrors: d("spool_append_errors_total", "Appends to the spool that failed."),
		cursorErrors: d("spool_cursor_errors_total", "Sink positions that could not be loaded (the sink started again at the oldest event) "+
			"or saved (a restart would send again what was delivered since the last good save), by operation.", "op"),
		removeErrs: d("spool_remove_errors_total", "Delivered segment files whose deletion failed (it is tried again)."),
		degraded: d("spool_degraded", "1 while the spool cannot do its job fully, by reason: disk_full and write_error "+
			"(the last append failed), cursor_save (a sink's last position save failed), remove_failed (a delivered segment is not deleted yet).", "reason"),
		bytes: d("spool_size_bytes", "Bytes the spool holds (files on disk, or event bytes in memory)."),
		count: d("spool_events", "Events the spool holds."),
	}
}

func (c *spoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.appended, c.lost, c.tornTails, c.tornBytes, c.appendErrors, c.cursorErrors,
		c.removeErrs, c.degraded, c.bytes, c.count} {
		ch <- d
	}
}

func (c *spoolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.q.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.appended, st.Appended)
	for _, r := range []string{spool.LostDiskFull, spool.LostWriteError, spool.LostTooLarge} {
		counter(c.lost, st.Lost[r], r)
	}
	counter(c.tornTails, st.TornTails)
	counter(c.tornBytes, st.TornBytes)
	counter(c.appendErrors, st.AppendErrors)
	counter(c.cursorErrors, st.CursorErrors, "load")
	counter(c.cursorErrors, st.CursorSaveErrors, "save")
	counter(c.removeErrs, st.RemoveErrors)
	for _, r := range []string{spool.DegradedDiskFull, spool.DegradedWriteError, spool.DegradedCursorSave, spool.DegradedRemove} {
		v := 0.0
		if slices.Contains(st.Degraded, r) {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.degraded, prometheus.GaugeValue, v, r)
	}
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(st.Bytes))
	ch <- prometheus.MustNewConstMetric(c.count, prometheus.GaugeValue, float64(st.Events))
}

// spoolCheck fails /healthz while the spool is degraded: events are being
// lost, or would be sent again after a restart, or space is not freed.
func spoolCheck(q spool.Queue) func() error {
	return func() error {
		st := q.Stats()
		if len(st.Degraded) == 0 {
			return nil
		}
		return fmt.Errorf("degraded (%s); last error: %s", strings.Join(st.Degraded, ", "), st.LastError)
	}
}

// RegisterShipping adds the sink and spool metrics, a health check that
// fails while the spool is degraded, and one health check per sink that
// fails at once while the sink is blocked (only the operator can mend it),
// and once it has been failing for longer than threshold.
func (t *Telemetry) RegisterShipping(q spool.Queue, sh *ship.Shipper, threshold time.Duration) error {
	if err := t.register(promsnap.New("sink", sh.Stats, sinkID, sinkMetrics...)); err != nil {
		return err
	}
	if err := t.register(newSpoolCollector(q)); err != nil {
		return err
	}
	t.health.add("spool", spoolCheck(q))
	if err := t.register(newLatencyCollector(sh.Stats)); err != nil {
		return err
	}
	for i, st := range sh.Stats() {
		t.health.add("sink "+st.Sink, func() error {
			s := sh.Stats()[i]
			if s.Blocked != "" {
				return fmt.Errorf("blocked (%s), events kept; last error: %s", s.Blocked, s.LastError)
			}
			err := failingFor(threshold, time.Now, func() (time.Time, bool) {
				return s.FailingSince, !s.FailingSince.IsZero()
			})()
			if err != nil {
				return fmt.Errorf("%w; last error: %s", err, s.LastError)
			}
			return nil
		})
	}
	return nil
}
