package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nflog-agent/nflog-agent/collector"
	"github.com/nflog-agent/nflog-agent/decode"
	"github.com/nflog-agent/nflog-agent/internal/config"
	"github.com/nflog-agent/nflog-agent/internal/logging"
	"github.com/nflog-agent/nflog-agent/internal/telemetry"
	"github.com/nflog-agent/nflog-agent/ship"
	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// runRun is `nflog-agent run [--config FILE]`: read the configured NFLOG
// groups and ship one ECS JSON event per record to the configured sinks
// (default: NDJSON on stdout) until SIGINT or SIGTERM. SIGHUP makes file
// sinks reopen their files and never stops the agent. It returns the process exit code.
func runRun(args []string, stdout, stderr io.Writer) int {
	ctx, reopen, stop := notifySignals(context.Background())
	defer stop()
	return runAgent(ctx, args, stdout, stderr, reopen)
}

// notifySignals turns SIGINT and SIGTERM into ctx's cancellation and SIGHUP
// into a value on reopen. Catching SIGHUP matters even before anything
// listens to it: its default action would kill the agent when logrotate
// sends it.
func notifySignals(parent context.Context) (ctx context.Context, reopen <-chan os.Signal, stop func()) {
	ctx, cancel := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	return ctx, hup, func() {
		signal.Stop(hup)
		cancel()
	}
}

// runAgent is runRun with the stop signal as a context and SIGHUP as a
// channel, for tests.
func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer, reopen <-chan os.Signal) int {
	cfg, _, status, stop := command{
		name:       "run",
		summary:    "Reads netfilter NFLOG groups and ships one ECS event per packet (default: NDJSON on stdout).",
		configHelp: "YAML configuration `file` (default: NFLOG group 100, events to stdout)",
	}.parse(args, stderr)
	if stop {
		return status
	}
	log := logging.New(cfg.Log, stderr)
	// The configuration's mistakes are refused here exactly as `check`
	// refuses them: the same build, the same words.
	a, err := build(cfg, forRun, log, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "nflog-agent run: %v\n", err)
		return 1
	}
	for _, w := range a.warnings {
		log.Warn("configuration warning", "warning", w.Error())
	}
	if limit, set := setMemoryLimit(cfg.Spool); set {
		log.Info("memory limit for the garbage collector", "bytes", limit)
	}
	if err := runPipeline(ctx, a, log, reopen); err != nil {
		log.Error("nflog-agent run failed", "err", err)
		return 1
	}
	return 0
}

// runPipeline wires collector → decode → queue (spool or memory) → ship's
// sinks, with metrics and health, until ctx is done; then it stops the
// readers, appends what they had read, and lets the sinks deliver it within
// cfg.ShutdownTimeout. It binds the sockets: everything else comes built
// in a, which it closes.
func runPipeline(ctx context.Context, a *agent, log *slog.Logger, reopen <-chan os.Signal) error {
	defer a.close()
	cfg := a.cfg
	netns := 0
	if a.netns != nil {
		netns = int(a.netns.Fd())
	}
	tel, err := telemetry.New(cfg.Metrics, telemetry.Build{Version: version, Commit: commit}, log)
	if err != nil {
		return err
	}
	// Stopped last, so /healthz says "draining" while the drain runs.
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := tel.Close(sctx); err != nil {
			log.Warn("stopping the metrics server", "err", err)
		}
	}()

	ccfg := collector.Config{NetNS: netns, Logger: log, ConntrackMaxEntries: cfg.ConntrackMaxEntries}
	for _, g := range cfg.Groups {
		ccfg.Groups = append(ccfg.Groups, g.Collector)
	}
	// build opened the spool, and repaired what a crash left, before any
	// group is bound here.
	col, err := collector.Open(ccfg)
	if err != nil {
		return err
	}
	q, sh := a.queue, a.shipper
	stages, err := registerTelemetry(tel, col, q, sh, cfg.Health.SinkFailureThreshold, log)
	if err != nil {
		col.Close()
		return err
	}
	backlog := pending(sh.Stats()) // before the sinks start on it
	sh.Start()
	a.shipper, a.queue = nil, nil // stopped and closed below, after the drain, each within a deadline
	// The spool logs its own failures, once per series.
	app := spool.NewAppender(q, cfg.Spool.Appender(), nil)

	panics := &panicLog{log: log}
	var wg sync.WaitGroup
	groups := make([]string, 0, len(col.Groups()))
	for i, g := range col.Groups() {
		opts := cfg.Groups[i].Decode
		opts.Hostname = a.hostname
		gc := g.Config()
		groups = append(groups, strconv.Itoa(int(gc.Group)))
		wg.Go(func() {
			decodeLoop(g, decode.NewEncoder(opts), app, stages.Group(i), panics)
		})
		log.Info("reading NFLOG group", "group", gc.Group, "snaplen", gc.SnapLen, "full_packet", gc.FullPacket,
			"message_flags", opts.Flags.String(), "queue_threshold", gc.QueueThreshold, "flush_timeout", gc.FlushTimeout,
			"read_buffer", g.Stats().ReadBuffer, "queue", gc.Queue, "overflow", gc.Overflow.String(),
			"conntrack", g.ConntrackSource().String())
	}
	netnsName := cfg.NetNS
	if netnsName == "" {
		netnsName, _ = os.Readlink("/proc/self/ns/net") // the agent's own: net:[inode]
	}
	started := []any{"netns", netnsName, "groups", strings.Join(groups, ","), "spool", "memory"}
	if cfg.Spool.Dir != "" {
		started[len(started)-1] = "disk"
		started = append(started, "spool_dir", cfg.Spool.Dir)
	}
	log.Info("nflog-agent started", append(started, "backlog", backlog)...)

wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-reopen:
			log.Info("reopen requested (SIGHUP): reopening file sinks")
			if err := sh.Reopen(); err != nil {
				log.Error("reopen failed", "err", err)
			}
		}
	}
	tel.Drain()
	log.Info("stopping: draining what was read", "shutdown_timeout", cfg.ShutdownTimeout)
	col.Close() // closes every Records channel once its reader has stopped
	// The decode loops never block (Add drops when the buffer is full),
	// but the last appends may wait on a hung disk.
	if err := within(stopStepTimeout, "append what was read", func() error {
		wg.Wait()
		app.Close()
		return nil
	}); err != nil {
		log.Error("stopping", "err", err)
	}
	werr := shutdownShipper(sh, cfg, log)
	for _, s := range col.Stats() {
		log.Info("group totals", "group", s.Group, "received", s.Received, "kernel_lost", s.KernelLost,
			"enobufs", s.ENOBUFS, "queue_dropped", s.QueueDropped, "decode_errors", s.DecodeErrors,
			"forged", s.Forged, "reopens", s.Reopens, "read_buffer", s.ReadBuffer)
		if s.Conntrack != collector.ConntrackOff {
			log.Info("group conntrack totals", "group", s.Group, "conntrack", s.Conntrack.String(),
				"enriched", s.ConntrackEnriched, "no_entry", s.ConntrackMissing.NoEntry,
				"no_flow", s.ConntrackMissing.NoFlow, "hold_full", s.ConntrackMissing.HoldFull)
		}
	}
	for _, d := range stages.Totals() {
		if d.SpoolDropped > 0 {
			log.Warn("events dropped before the spool (its input buffer was full)", "group", d.Group, "spool_dropped", d.SpoolDropped)
		}
		if d.EncoderPanics > 0 {
			log.Error("records dropped because the encoder panicked on them (a decoder bug)", "group", d.Group, "encoder_panics", d.EncoderPanics)
		}
	}
	for _, st := range sh.Stats() {
		log.Info("sink totals", "sink", st.Sink, "sent", st.Sent, "failed", sum(st.Failed), "dropped", sum(st.Dropped),
			"pending", st.SpoolPending)
	}
	if err := closeQueue(q); err != nil && werr == nil {
		werr = err
	}
	return werr
}

// registerTelemetry exports the groups', the queue's and the sinks'
// metrics and health checks, and the counters of the decode stages, one
// set per group in the order of col.Groups.
func registerTelemetry(tel *telemetry.Telemetry, col *collector.Collector, q spool.Queue, sh *ship.Shipper,
	sinkFailureThreshold time.Duration, log *slog.Logger) (*telemetry.DecodeStats, error) {
	if err := tel.RegisterGroups(col, log); err != nil {
		return nil, err
	}
	if err := tel.RegisterShipping(q, sh, sinkFailureThreshold); err != nil {
		return nil, err
	}
	groups := make([]uint16, len(col.Groups()))
	for i, g := range col.Groups() {
		groups[i] = g.Config().Group
	}
	return tel.RegisterDecodeStats(groups)
}

// closeQueue closes the queue, giving up after stopStepTimeout.
func closeQueue(q spool.Queue) error { return within(stopStepTimeout, "close the spool", q.Close) }

// stopStepTimeout bounds each step of the stop that does not deliver
// (appending what was read, closing the spool): a disk that hangs must not
// keep the agent from exiting.
const stopStepTimeout = 10 * time.Second

// within runs fn, the step of the stop named what, and returns its error,
// but waits for it at most d; fn goes on in the background if it takes
// longer, and the process exit ends it.
func within(d time.Duration, what string, fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("%s: still not done after %s, given up", what, d)
	}
}

// shutdownShipper lets the sinks deliver what is queued until
// cfg.ShutdownTimeout, then gives up on them, saying what was abandoned.
// A sink stuck in a write that ignores cancellation (a stdout pipe nobody
// reads) is abandoned too, a moment after the deadline.
func shutdownShipper(sh *ship.Shipper, cfg *config.Config, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- sh.Shutdown(ctx) }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		select {
		case err = <-done:
		case <-time.After(abandonGrace):
			err = errors.New("a sink is stuck in a write")
		}
	}
	if err == nil {
		return nil
	}
	fate := "they are lost (counted as dropped, reason lost_at_stop): configure spool.dir to keep them"
	if cfg.Spool.Dir != "" {
		fate = "they are kept in the spool " + cfg.Spool.Dir + " and sent at the next start"
	}
	log.Debug("sink shutdown", "err", err)
	return fmt.Errorf("shutdown: sinks not drained after shutdown_timeout %s: %d events undelivered; %s",
		cfg.ShutdownTimeout, pending(sh.Stats()), fate)
}

// pending is how many events wait in the queue for the slowest sink.
func pending(stats []ship.Stats) uint64 {
	var n uint64
	for _, st := range stats {
		n = max(n, st.SpoolPending)
	}
	return n
}

// abandonGrace is how long a sink gets past the deadline to notice it.
const abandonGrace = 500 * time.Millisecond

func sum(m map[string]uint64) (n uint64) {
	for _, v := range m {
		n += v
	}
	return n
}

// decodeLoop is the decode stage of one group: it runs on its own goroutine
// so the reader never waits for encoding or output. Events go to the queue
// through app, which never blocks; those it has no room for are counted in
// st, as are the records the encoder panicked on.
func decodeLoop(g *collector.Group, enc *decode.Encoder, app *spool.Appender, st *telemetry.DecodeCounters, panics *panicLog) {
	for batch := range g.Records() {
		records := batch.Records()
		for i := range records {
			ev, ok := encode(enc, &records[i], panics)
			if !ok {
				st.EncoderPanics.Add(1)
				continue
			}
			if !app.Add(ev) {
				st.SpoolDropped.Add(1)
			}
		}
		g.Recycle(batch) // the events are copies: the records are done with
	}
}

// encoder is what encode needs of a decode.Encoder.
type encoder interface {
	Encode(r *decode.Record) spool.Event
}

// encode shields the pipeline from a decoder bug: a record that makes the
// encoder panic is reported to panics, and ok is false so that the caller
// counts it, instead of killing the agent.
func encode(enc encoder, r *decode.Record, panics *panicLog) (ev spool.Event, ok bool) {
	defer func() {
		if v := recover(); v != nil {
			panics.report(r, v, debug.Stack())
			ok = false
		}
	}()
	return enc.Encode(r), true
}

// panicLog logs the decoder panics with what it takes to reproduce them:
// the stack and the record. A bug that every packet triggers would flood the
// log, so it logs at most one a minute; the encoder panic count has them all.
type panicLog struct {
	log  *slog.Logger
	last atomic.Int64 // Unix seconds of the last one logged
}

// panicBytes is how much of each byte field of the record a report shows.
const panicBytes = 256

func (p *panicLog) report(r *decode.Record, v any, stack []byte) {
	now, last := time.Now().Unix(), p.last.Load()
	if (last != 0 && now-last < 60) || !p.last.CompareAndSwap(last, now) {
		return
	}
	p.log.Error("decoder bug: a record made the encoder panic; it is counted as a decode error (please report this)",
		"group", r.Group, "panic", fmt.Sprint(v), "family", r.Family, "hook", r.Hook, "prefix", r.Prefix,
		"hw_header", hexCut(r.HwHeader), "l2_header", hexCut(r.L2Header), "ct", fmt.Sprintf("%+v", r.Ct), "payload", hexCut(r.Payload), "payload_len", len(r.Payload),
		"stack", string(stack))
}

func hexCut(b []byte) string {
	if len(b) > panicBytes {
		return hex.EncodeToString(b[:panicBytes]) + "..."
	}
	return hex.EncodeToString(b)
}
