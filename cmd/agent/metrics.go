package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/nflog-agent/nflog-agent/cmd/agent/internal/promsnap"
	"github.com/nflog-agent/nflog-agent/collector"
	"github.com/nflog-agent/nflog-agent/internal/config"
)

// metricPrefix starts every metric name, as Prometheus naming asks for a
// single application prefix.
const metricPrefix = "nflog_agent_"

// groupMetrics are the per-group metrics, read from collector.Stats at
// scrape time. Per-sink metrics belong in a table like this one over
// ship's Stats, registered with telemetry.register.
var groupMetrics = []promsnap.Metric[collector.Stats]{
	counter("received_events_total", "NFLOG messages read from the group's socket.",
		func(s *collector.Stats) uint64 { return s.Received }),
	counter("kernel_lost_events_total", "Messages the kernel logged to the group but dropped before the agent read them (sequence-number gaps).",
		func(s *collector.Stats) uint64 { return s.KernelLost }),
	counter("enobufs_total", "Times the socket reported ENOBUFS: its receive buffer was full and the kernel dropped messages.",
		func(s *collector.Stats) uint64 { return s.ENOBUFS }),
	counter("decode_errors_total", "NFLOG datagrams or messages that could not be parsed into a record (lost).",
		func(s *collector.Stats) uint64 { return s.DecodeErrors }),
	counter("forged_datagrams_total", "Netlink datagrams sent to the group's socket by a user-space process instead of the kernel: dropped unread, a sign of tampering.",
		func(s *collector.Stats) uint64 { return s.Forged }),
	counter("queue_dropped_events_total", "Events read but dropped because the group's queue to the decoder was full (overflow: drop).",
		func(s *collector.Stats) uint64 { return s.QueueDropped }),
	counter("socket_reopens_total", "Times the group's socket failed and was re-opened.",
		func(s *collector.Stats) uint64 { return s.Reopens }),
	{Name: metricPrefix + "read_buffer_bytes", Help: "Socket receive buffer of the group as the kernel reports it.", Kind: promsnap.Gauge,
		Value: func(s *collector.Stats, emit func(float64, ...string)) { emit(float64(s.ReadBuffer)) }},
}

// counter is a plain counter read from a snapshot (a group's, the
// conntrack mirror's).
func counter[T any](name, help string, get func(*T) uint64) promsnap.Metric[T] {
	return promsnap.Metric[T]{Name: metricPrefix + name, Help: help, Kind: promsnap.Counter,
		Value: func(s *T, emit func(float64, ...string)) { emit(float64(get(s))) }}
}

func groupID(s *collector.Stats) string { return strconv.Itoa(int(s.Group)) }

// telemetry is the agent's monitoring endpoint: /metrics and /healthz on
// one local address.
type telemetry struct {
	reg    *prometheus.Registry
	health *health
	srv    *http.Server
	addr   net.Addr
	served chan error
}

// newTelemetry builds the registry (build info and process metrics, under
// the agent's prefix) and the health checks, and serves them on listen
// when it is not empty. Listening happens here so that a taken port is a
// start error, not a log line nobody reads.
func newTelemetry(mc config.Metrics, log *slog.Logger) (*telemetry, error) {
	listen := mc.Listen
	t := &telemetry{reg: prometheus.NewRegistry(), health: &health{}}
	t.reg.MustRegister(buildInfo())
	prometheus.WrapRegistererWithPrefix(metricPrefix, t.reg).MustRegister(
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if listen == "" {
		return t, nil
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(t.reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn), ErrorHandling: promhttp.ContinueOnError}))
	mux.Handle("GET /healthz", t.health)
	if mc.PProf {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	}
	t.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	t.addr = ln.Addr()
	t.served = make(chan error, 1)
	go func() { t.served <- t.srv.Serve(ln) }()
	log.Info("serving metrics and health", "addr", t.addr.String(), "metrics", "/metrics", "health", "/healthz")
	return t, nil
}

// register adds a collector, e.g. a promsnap.Collector over a component's
// Stats.
func (t *telemetry) register(c prometheus.Collector) error { return t.reg.Register(c) }

// close stops serving; a scrape in progress gets until ctx is done.
func (t *telemetry) close(ctx context.Context) error {
	if t.srv == nil {
		return nil
	}
	err := t.srv.Shutdown(ctx)
	if serr := <-t.served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// buildInfo is the conventional constant 1 whose labels say what runs.
func buildInfo() prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: metricPrefix + "build_info",
		Help: "Always 1; the labels say which build of the agent is running.",
	}, []string{"version", "commit", "goversion"})
	g.WithLabelValues(version, commit, runtime.Version()).Set(1)
	return g
}
