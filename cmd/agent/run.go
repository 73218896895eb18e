package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/nflog-agent/nflog-agent/cmd/agent/internal/promsnap"
	"github.com/nflog-agent/nflog-agent/collector"
	"github.com/nflog-agent/nflog-agent/decode"
)

// runRun is `nflog-agent run [--config FILE]`: read the configured NFLOG
// groups and print one ECS JSON event per line on stdout until SIGINT or
// SIGTERM. SIGHUP asks the outputs to reopen their files and never stops
// the agent. It returns the process exit code.
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
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML configuration `file` (default: NFLOG group 100, events to stdout)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: nflog-agent run [--config FILE]\n\n"+
			"Reads netfilter NFLOG groups and prints one ECS JSON event per line on stdout.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "nflog-agent run: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg := defaultConfig()
	if *configPath != "" {
		var err error
		if cfg, err = loadConfig(*configPath); err != nil {
			fmt.Fprintf(stderr, "nflog-agent run: %v\n", err)
			return 1
		}
	}
	log := newLogger(cfg.Log, stderr)
	if err := runPipeline(ctx, cfg, stdout, log, reopen); err != nil {
		log.Error("nflog-agent run failed", "err", err)
		return 1
	}
	return 0
}

// runPipeline wires collector → decode → stdout, with metrics and health,
// until ctx is done; then it stops the readers and drains what they had
// read, within cfg.ShutdownTimeout.
func runPipeline(ctx context.Context, cfg *config, stdout io.Writer, log *slog.Logger, reopen <-chan os.Signal) error {
	hostname := cfg.Hostname
	if hostname == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("hostname: %w", err)
		}
		hostname = h
	}
	netns := 0
	if cfg.NetNS != "" {
		f, err := os.Open(cfg.NetNS)
		if err != nil {
			return fmt.Errorf("network namespace: %w", err)
		}
		defer f.Close()
		netns = int(f.Fd())
	}
	tel, err := newTelemetry(cfg.Metrics.Listen, log)
	if err != nil {
		return err
	}
	// Stopped last, so /healthz says "draining" while the drain runs.
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := tel.close(sctx); err != nil {
			log.Warn("stopping the metrics server", "err", err)
		}
	}()

	ccfg := collector.Config{NetNS: netns, Logger: log}
	for _, g := range cfg.Groups {
		ccfg.Groups = append(ccfg.Groups, g.Collector)
	}
	col, err := collector.Open(ccfg)
	if err != nil {
		return err
	}
	if err := tel.register(promsnap.New("group", col.Stats, groupID, groupMetrics...)); err != nil {
		col.Close()
		return fmt.Errorf("metrics: %w", err)
	}
	var drain drainState
	tel.health.add("agent", drain.check)

	out := newLineWriter(stdout)
	var wg sync.WaitGroup
	for i, g := range col.Groups() {
		opts := cfg.Groups[i].Decode
		opts.Hostname = hostname
		gc := g.Config()
		var st groupState
		tel.health.add(fmt.Sprintf("group %d", gc.Group), st.check)
		wg.Go(func() {
			defer st.stop()
			decodeLoop(g, decode.NewEncoder(opts), out)
		})
		log.Info("reading NFLOG group", "group", gc.Group, "snaplen", gc.SnapLen, "full_packet", gc.FullPacket,
			"message_flags", opts.Flags.String(), "queue_threshold", gc.QueueThreshold, "flush_timeout", gc.FlushTimeout,
			"read_buffer", g.Stats().ReadBuffer, "queue", gc.Queue, "overflow", gc.Overflow.String())
	}

wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-out.failed:
			break wait
		case <-reopen:
			reopenOutputs(log)
		}
	}
	drain.start()
	log.Info("stopping: draining what was read", "shutdown_timeout", cfg.ShutdownTimeout)
	col.Close() // closes every Records channel once its reader has stopped
	drained := make(chan error, 1)
	go func() {
		wg.Wait()
		drained <- out.flush()
	}()
	var werr error
	select {
	case werr = <-drained:
	case <-time.After(cfg.ShutdownTimeout):
		// The output is stuck (a blocked pipe): exit anyway, as systemd
		// would kill us a little later, but say what was not written.
		werr = fmt.Errorf("shutdown: output not drained after shutdown_timeout %s; queued events are lost", cfg.ShutdownTimeout)
	}
	for _, s := range col.Stats() {
		log.Info("group totals", "group", s.Group, "received", s.Received, "kernel_lost", s.KernelLost,
			"enobufs", s.ENOBUFS, "queue_dropped", s.QueueDropped, "decode_errors", s.DecodeErrors,
			"reopens", s.Reopens, "read_buffer", s.ReadBuffer)
	}
	if werr != nil {
		return fmt.Errorf("write events: %w", werr)
	}
	return nil
}

// reopenOutputs runs on SIGHUP, which logrotate sends after moving a log
// file away. Events go to stdout today, which has nothing to reopen; the
// file sink's reopen (ship's Shipper.Reopen) belongs here.
func reopenOutputs(log *slog.Logger) {
	log.Info("reopen requested (SIGHUP): nothing to reopen, events go to stdout")
}

// decodeLoop is the decode stage of one group: it runs on its own goroutine
// so the reader never waits for encoding or output.
func decodeLoop(g *collector.Group, enc *decode.Encoder, out *lineWriter) {
	recs := g.Records()
	for r := range recs {
		ev, ok := encode(enc, &r)
		if !ok {
			g.AddDecodeError()
			continue
		}
		// Flush when the queue is empty: batches under load, no latency
		// when idle.
		out.writeLine(ev.JSON, len(recs) == 0)
	}
}

// encode shields the pipeline from a decoder bug: a record that makes the
// encoder panic is counted as a decode error instead of killing the agent.
func encode(enc *decode.Encoder, r *decode.Record) (ev decode.Event, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return enc.Encode(r), true
}

// lineWriter serialises NDJSON lines from several decode goroutines. After
// the first write error it discards everything and closes failed, so a
// closed stdout stops the agent instead of wedging it.
type lineWriter struct {
	mu     sync.Mutex
	w      *bufio.Writer
	err    error
	failed chan struct{}
}

func newLineWriter(w io.Writer) *lineWriter {
	return &lineWriter{w: bufio.NewWriterSize(w, 64<<10), failed: make(chan struct{})}
}

func (l *lineWriter) writeLine(b []byte, flush bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return
	}
	_, err := l.w.Write(b)
	if err == nil {
		err = l.w.WriteByte('\n')
	}
	if err == nil && flush {
		err = l.w.Flush()
	}
	l.fail(err)
}

func (l *lineWriter) flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.fail(l.w.Flush())
	}
	return l.err
}

// fail records the first error; l.mu must be held.
func (l *lineWriter) fail(err error) {
	if err != nil && l.err == nil {
		l.err = err
		close(l.failed)
	}
}
