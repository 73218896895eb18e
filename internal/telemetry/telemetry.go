// Package telemetry is how the agent is watched: the Prometheus registry
// of its metrics, read from the components' Stats at scrape time, and one
// local listener serving /metrics, /healthz and, when asked, Go's profiler.
package telemetry

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
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/nflog-agent/nflog-agent/collector"
	"github.com/nflog-agent/nflog-agent/internal/telemetry/promsnap"
)

// metricPrefix starts every metric name, as Prometheus naming asks for a
// single application prefix.
const metricPrefix = "nflog_agent_"

// groupMetrics are the per-group metrics, read from collector.Stats at
// scrape time; sinkMetrics are their twin over ship's Stats.
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

// Config is the `metrics:` section of the configuration.
type Config struct {
	Listen string // host:port of /metrics and /healthz; "" = off
	// PProf adds Go's profiler under /debug/pprof/ on the same listener,
	// to find where the agent spends its CPU on a busy firewall.
	PProf bool
}

// ParseListen reads metrics.listen: host:port, where port 0 picks a free
// port (tests, the demo), or `off` or nothing for no endpoint.
func ParseListen(s string) (string, error) {
	if s == "off" || s == "" {
		return "", nil
	}
	host, port, err := net.SplitHostPort(s)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil || strings.ContainsAny(host, " /") {
		return "", fmt.Errorf("%q: want host:port such as 127.0.0.1:9740, or off", s)
	}
	return s, nil
}

// Build says which build of the agent runs, for the build_info metric.
type Build struct{ Version, Commit string }

// Telemetry is the agent's monitoring endpoint: /metrics and /healthz on
// one local address. Its /healthz has an "agent" check from the start,
// which fails once Drain is called.
type Telemetry struct {
	reg      *prometheus.Registry
	health   *health
	draining drainState
	srv      *http.Server
	addr     net.Addr
	served   chan error
}

// New builds the registry (build info and process metrics, under the
// agent's prefix) and the health checks, and serves them on cfg.Listen
// when it is not empty. Listening happens here so that a taken port is a
// start error, not a log line nobody reads.
func New(cfg Config, build Build, log *slog.Logger) (*Telemetry, error) {
	t := &Telemetry{reg: prometheus.NewRegistry(), health: &health{}}
	t.reg.MustRegister(buildInfo(build))
	prometheus.WrapRegistererWithPrefix(metricPrefix, t.reg).MustRegister(
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	t.health.add("agent", t.draining.check)
	if cfg.Listen == "" {
		return t, nil
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(t.reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn), ErrorHandling: promhttp.ContinueOnError}))
	mux.Handle("GET /healthz", t.health)
	if cfg.PProf {
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

// Drain makes /healthz fail from now on, so that a supervisor polling it
// sees the agent going away before the port closes.
func (t *Telemetry) Drain() { t.draining.start() }

// RegisterGroups exports the metrics of every group of col, conntrack's
// included, and adds one health check per group that fails while the
// group is not being read.
func (t *Telemetry) RegisterGroups(col *collector.Collector, log *slog.Logger) error {
	if err := t.register(promsnap.New("group", col.Stats, groupID, groupMetrics...)); err != nil {
		return err
	}
	if err := t.registerConntrack(col, log); err != nil {
		return err
	}
	for _, g := range col.Groups() {
		t.health.add(fmt.Sprintf("group %d", g.Config().Group), groupCheck(g))
	}
	return nil
}

// register adds a collector, e.g. a promsnap.Collector over a component's
// Stats.
func (t *Telemetry) register(c prometheus.Collector) error {
	if err := t.reg.Register(c); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// Close stops serving; a scrape in progress gets until ctx is done.
func (t *Telemetry) Close(ctx context.Context) error {
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
func buildInfo(b Build) prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: metricPrefix + "build_info",
		Help: "Always 1; the labels say which build of the agent is running.",
	}, []string{"version", "commit", "goversion"})
	g.WithLabelValues(b.Version, b.Commit, runtime.Version()).Set(1)
	return g
}
