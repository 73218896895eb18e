package telemetry

import (
	"log/slog"

	"github.com/nflog-agent/nflog-agent/collector"
	"github.com/nflog-agent/nflog-agent/collector/ctmirror"
	"github.com/nflog-agent/nflog-agent/internal/telemetry/promsnap"
)

// conntrackGroupMetrics count, per group asked for conntrack, what became
// of each record's entry; groups without conntrack emit nothing.
var conntrackGroupMetrics = []promsnap.Metric[collector.Stats]{
	{Name: metricPrefix + "conntrack_enriched_events_total", Kind: promsnap.Counter,
		Help: "Events given their conntrack entry (from NFULA_CT or the ctnetlink mirror).",
		Value: func(s *collector.Stats, emit func(float64, ...string)) {
			if s.Conntrack != collector.ConntrackOff {
				emit(float64(s.ConntrackEnriched))
			}
		}},
	{Name: metricPrefix + "conntrack_missing_events_total", Kind: promsnap.Counter, Labels: []string{"reason"},
		Help: "Events shipped without their conntrack entry, by reason: no_entry (none attached, or none mirrored " +
			"within the hold time), no_flow (no flow to look up), hold_full (too many events were waiting).",
		Value: func(s *collector.Stats, emit func(float64, ...string)) {
			if s.Conntrack == collector.ConntrackOff {
				return
			}
			emit(float64(s.ConntrackMissing.NoEntry), "no_entry")
			emit(float64(s.ConntrackMissing.NoFlow), "no_flow")
			emit(float64(s.ConntrackMissing.HoldFull), "hold_full")
		}},
}

// conntrackMirrorMetrics describe the ctnetlink mirror, when a group uses it.
var conntrackMirrorMetrics = []promsnap.Metric[ctmirror.Stats]{
	{Name: metricPrefix + "conntrack_table_entries", Kind: promsnap.Gauge,
		Help:  "Conntrack entries mirrored over ctnetlink now.",
		Value: func(s *ctmirror.Stats, emit func(float64, ...string)) { emit(float64(s.Entries)) }},
	counter("conntrack_table_evicted_total", "Mirrored entries evicted to stay within conntrack_max_entries.",
		func(s *ctmirror.Stats) uint64 { return s.Evicted }),
	counter("conntrack_netlink_events_total", "Conntrack events (new, update, destroy) applied to the mirror.",
		func(s *ctmirror.Stats) uint64 { return s.Events }),
	counter("conntrack_netlink_enobufs_total", "Times the kernel dropped conntrack events for want of socket buffer.",
		func(s *ctmirror.Stats) uint64 { return s.EventsLost }),
	counter("conntrack_netlink_errors_total", "Conntrack events that could not be read.",
		func(s *ctmirror.Stats) uint64 { return s.ParseErrors }),
	counter("conntrack_table_resyncs_total", "Times the whole conntrack table was read again after the kernel dropped events.",
		func(s *ctmirror.Stats) uint64 { return s.Resyncs }),
}

// registerConntrack exports the conntrack metrics and says at start where
// the entries come from.
func (t *Telemetry) registerConntrack(col *collector.Collector, log *slog.Logger) error {
	if err := t.register(promsnap.New("group", col.Stats, groupID, conntrackGroupMetrics...)); err != nil {
		return err
	}
	st, ok := col.ConntrackStats()
	if !ok {
		return nil
	}
	log.Info("conntrack entries come from a ctnetlink mirror of the conntrack table",
		"entries", st.Entries, "max_entries", col.ConntrackMaxEntries(), "hold", ctmirror.MaxHold)
	return t.register(promsnap.New("source", func() []ctmirror.Stats {
		s, _ := col.ConntrackStats()
		return []ctmirror.Stats{s}
	}, func(*ctmirror.Stats) string { return "ctnetlink" }, conntrackMirrorMetrics...))
}
