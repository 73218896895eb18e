// Package promsnap exposes snapshots of plain counters as Prometheus
// metrics. The pipeline keeps its counters in atomics and hands out Stats
// snapshots; a Collector reads one snapshot per scrape and turns it into
// constant metrics. Nothing on the per-event path ever calls into
// Prometheus, and a component needs no Prometheus types to be measured.
package promsnap

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Kind is the Prometheus type of a metric.
type Kind int

const (
	Counter Kind = iota // monotonic: names end in _total
	Gauge               // a current value
)

// Metric describes one metric family taken from a snapshot of type T.
type Metric[T any] struct {
	Name   string   // full name, e.g. nflog_agent_received_events_total
	Help   string   // one line: what it counts and why it matters
	Kind   Kind     //
	Labels []string // labels beyond the collector's own (e.g. "reason")
	// Value emits the metric's value(s) for one snapshot element: once for a
	// plain metric, once per label combination otherwise (label values in
	// the order of Labels).
	Value func(s *T, emit func(v float64, labelValues ...string))
}

// Collector is a prometheus.Collector over a snapshot function. Each element
// of the snapshot is one instance (a group, a sink) named by the label
// Label with the value ID returns.
type Collector[T any] struct {
	snapshot func() []T
	id       func(*T) string
	metrics  []Metric[T]
	descs    []*prometheus.Desc
}

// New returns a collector; register it with a prometheus.Registerer.
func New[T any](label string, snapshot func() []T, id func(*T) string, metrics ...Metric[T]) *Collector[T] {
	c := &Collector[T]{snapshot: snapshot, id: id, metrics: metrics}
	for _, m := range metrics {
		labels := append([]string{label}, m.Labels...)
		c.descs = append(c.descs, prometheus.NewDesc(m.Name, m.Help, labels, nil))
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *Collector[T]) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector: one snapshot per scrape, so all
// of an instance's values are from the same moment.
func (c *Collector[T]) Collect(ch chan<- prometheus.Metric) {
	snap := c.snapshot()
	for i := range snap {
		s := &snap[i]
		id := c.id(s)
		for j, m := range c.metrics {
			vt := prometheus.CounterValue
			if m.Kind == Gauge {
				vt = prometheus.GaugeValue
			}
			m.Value(s, func(v float64, lv ...string) {
				metric, err := prometheus.NewConstMetric(c.descs[j], vt, v, append([]string{id}, lv...)...)
				if err != nil {
					// A label-count mismatch is a bug in a Metric table;
					// report it in the scrape rather than panic.
					metric = prometheus.NewInvalidMetric(c.descs[j], fmt.Errorf("promsnap %s: %w", m.Name, err))
				}
				ch <- metric
			})
		}
	}
}
