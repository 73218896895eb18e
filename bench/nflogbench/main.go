// Command nflogbench runs nflog-agent and ulogd2 side by side on the same
// kernel flood and writes the results (CSV, Markdown, PNG chart). It is
// driven by bench/run.sh (`make bench`), which builds the binaries, checks
// for ulogd2 (installing it only with BENCH_INSTALL=1) and cleans up behind
// it; see docs/bench/NOTES.md.
//
// The lab: namespace A sends a paced UDP flood (bench/loadgen, pinned to CPU 0)
// to namespace B, whose nft input rules log every flood packet to one NFLOG
// group per reader (counter on each rule) and drop it. The readers run in B
// pinned to CPU 1: each alone, then both at once. Each run starts fresh
// reader processes, so peak RSS is per run.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type binaries struct{ agent, loadgen, ulogd string }

type options struct {
	steps    []float64
	duration time.Duration
	repeat   int
	setups   []string
	maxDrain time.Duration
	maxLag   time.Duration
	out      string
	work     string
	prefix   string
	note     string
	agentRT  bool
	loadAt   string
	overflow string
	// httpsConcurrency is agent-https's sink concurrency; 0: the default.
	httpsConcurrency int
	extra            string
	logs             string
	spool            string // where agent-https's spool directories go: a disk, not the tmpfs
	bins             binaries
}

// Setups: each reader alone, then both at once.
const (
	setupULOGD = "ulogd2"
	setupAgent = "agent"
	setupBoth  = "both"
	// setupAgentFile: the agent alone with a file sink (NDJSON, one fsync
	// per batch) instead of stdout, on the tmpfs.
	setupAgentFile = "agent-file"
	// setupAgentHTTPS: the agent alone, shipping to an HTTPS receiver
	// (`nflogbench receive`) on B's loopback, gzip, spool directory on a
	// disk (-spool-dir), where an fsync costs what it costs in production.
	setupAgentHTTPS = "agent-https"
	// httpMaxAge is the http sink's default batch.max_age.
	httpMaxAge = time.Second
)

func main() {
	os.Exit(run())
}

func run() int {
	if len(os.Args) > 1 && os.Args[1] == "receive" {
		return receive(os.Args[2:])
	}
	var o options
	var steps, setups string
	flag.StringVar(&steps, "steps", "25k,50k,75k,100k,150k,200k,250k,400k", "offered rates, packets per second")
	flag.DurationVar(&o.duration, "duration", 8*time.Second, "flood duration of each step")
	flag.IntVar(&o.repeat, "repeat", 1, "repetitions of the whole sweep")
	flag.StringVar(&setups, "setups", "ulogd2,agent,agent-file,both,agent-https", "setups to run: ulogd2 (alone), agent (alone, stdout), agent-file (alone, file sink), both, agent-https (alone, shipping over HTTPS)")
	flag.DurationVar(&o.maxDrain, "max-drain", 20*time.Second, "longest wait for a reader to catch up after a flood")
	flag.DurationVar(&o.maxLag, "max-lag", time.Second, "a run is lossless only if the reader caught up within this after the flood")
	flag.StringVar(&o.out, "out", "docs/bench", "results directory")
	flag.StringVar(&o.work, "work", "", "scratch directory for reader output (a tmpfs; required)")
	flag.StringVar(&o.spool, "spool-dir", "/var/tmp", "`directory` on a disk filesystem for agent-https's spool (each run's is removed after it)")
	flag.StringVar(&o.prefix, "prefix", "nflb", "name prefix of the namespaces this run creates")
	flag.BoolVar(&o.agentRT, "agent-rt", false, "run nflog-agent with ulogd2's real-time priority (SCHED_RR 99), to shield it from unrelated load as ulogd2 shields itself")
	flag.StringVar(&o.extra, "agent-yaml", "", "top-level YAML appended to the agent's config (e.g. `spool: {memory_events: 10000}`)")
	flag.StringVar(&o.logs, "logs", "", "keep each reader's stderr (ulogd2's log file for ulogd2) in this `directory`")
	flag.StringVar(&o.overflow, "agent-overflow", "", "the agent's overflow policy (drop or block; empty: its default)")
	flag.IntVar(&o.httpsConcurrency, "https-concurrency", 0, "agent-https's sink `concurrency` (batches in flight; 0: the sink's default)")
	flag.StringVar(&o.loadAt, "load-start", "", "load average when `make bench` started, to record with the results")
	flag.StringVar(&o.note, "note", "", "note written next to the results (e.g. the mode)")
	flag.StringVar(&o.bins.agent, "agent", "bin/nflog-agent", "nflog-agent binary")
	flag.StringVar(&o.bins.loadgen, "loadgen", "bin/loadgen", "load generator binary")
	flag.StringVar(&o.bins.ulogd, "ulogd", "/usr/sbin/ulogd", "ulogd binary")
	flag.Parse()
	var err error
	if o.steps, err = parseRates(steps); err != nil {
		fmt.Fprintf(os.Stderr, "nflogbench: -steps: %v\n", err)
		return 2
	}
	for _, s := range strings.Split(setups, ",") {
		if s != setupULOGD && s != setupAgent && s != setupAgentFile && s != setupBoth && s != setupAgentHTTPS {
			fmt.Fprintf(os.Stderr, "nflogbench: -setups: unknown setup %q\n", s)
			return 2
		}
		o.setups = append(o.setups, s)
	}
	if o.work == "" || o.repeat < 1 {
		fmt.Fprintln(os.Stderr, "nflogbench: need -work DIR and -repeat >= 1")
		return 2
	}
	for _, b := range []*string{&o.bins.agent, &o.bins.loadgen, &o.bins.ulogd} {
		if *b, err = filepath.Abs(*b); err != nil {
			fmt.Fprintf(os.Stderr, "nflogbench: %v\n", err)
			return 2
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	cl := &cleaner{}
	defer cl.run()
	if err := bench(ctx, o, cl); err != nil {
		fmt.Fprintf(os.Stderr, "nflogbench: %v\n", err)
		return 1
	}
	return 0
}

// parseRates reads "25k,50k,1.5M,1000".
func parseRates(s string) ([]float64, error) {
	var r []float64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		mul := 1.0
		switch {
		case strings.HasSuffix(f, "k"):
			mul, f = 1e3, strings.TrimSuffix(f, "k")
		case strings.HasSuffix(f, "M"):
			mul, f = 1e6, strings.TrimSuffix(f, "M")
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("bad rate %q", f)
		}
		r = append(r, v*mul)
	}
	return r, nil
}

func bench(ctx context.Context, o options, cl *cleaner) error {
	pids, err := os.OpenFile(filepath.Join(o.work, "pids"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer pids.Close()
	m := describeMachine(ctx, o.bins)
	m.LoadStart = o.loadAt
	l, err := newLab(ctx, o.prefix, cl)
	if err != nil {
		return err
	}
	var results []result
	total := o.repeat * len(o.steps) * len(o.setups)
	start := time.Now()
	runs := 0
	for rep := 1; rep <= o.repeat; rep++ {
		for _, rate := range o.steps {
			for _, setup := range o.setups {
				if err := ctx.Err(); err != nil {
					return err
				}
				rs, err := runOnce(ctx, o, l, pids, setup, rate, rep)
				if ctx.Err() != nil {
					return fmt.Errorf("interrupted; namespaces and processes removed")
				}
				if err != nil {
					return fmt.Errorf("run %s at %.0f pps (repetition %d): %w", setup, rate, rep, err)
				}
				results = append(results, rs...)
				runs++
				for _, r := range rs {
					recv := ""
					if r.Reader == kindAgentHTTPS && r.Written > 0 {
						recv = fmt.Sprintf(" (receiver %.2f µs/ev)", r.ReceiverCPUSecs/float64(r.Written)*1e6)
					}
					fmt.Printf("[%3d/%d %4.0fs] %-6s %-11s target %6.0f sent %8.0f/s logged %8d written %8d lost %6.2f%% lag %5.2fs cpu %6.2f µs/ev rss %5.1f MiB%s\n",
						runs, total, time.Since(start).Seconds(), r.Setup, r.Reader, r.TargetPPS, r.SentPPS,
						r.Logged, r.Written, r.LossPct, r.LagS, r.CPUMicrosPerEvent, r.PeakRSSMiB, recv)
				}
			}
		}
	}
	m.LoadAfter = loadAvg()
	m.Elapsed = time.Since(start).Round(time.Second).String()
	return writeResults(o, m, results)
}

// result is one reader in one run.
type result struct {
	Rep               int
	Setup             string // ulogd2 / agent (alone) or both
	Reader            string
	TargetPPS         float64
	SentPPS           float64 // the generator's real rate
	Sent              uint64
	ElapsedS          float64 // how long the generator really sent
	Logged            uint64  // the reader's rule counter: events the kernel logged for it
	Written           uint64  // events in its output
	Lost              uint64  // Logged - Written
	LossPct           float64
	KernelLostSeq     uint64  // what sequence gaps show (misses a loss at the very end)
	QueueDropped      uint64  // agent: the group queue's drops (reader → decoder)
	SpoolDropped      uint64  // agent: the Appender's drops (decoder → queue)
	SinkDropped       uint64  // agent: the queue's drops before the sink read them (queue_full, spool_full)
	LagS              float64 // from the end of the flood until its output stopped growing
	Drained           bool
	CPUSeconds        float64
	CPUMicrosPerEvent float64 // = CPU seconds per million events
	PeakRSSMiB        float64
	Lossless          bool
	ReceiverCPUSecs   float64 // agent-https: the HTTPS receiver's CPU (not in CPUSeconds)
	OutputFS          string  // filesystem of the reader's output file
	SpoolFS           string  // agent-https: filesystem of the spool directory
}

func readersOf(setup string) []string {
	switch setup {
	case setupULOGD:
		return []string{kindULOGD}
	case setupAgent:
		return []string{kindAgent}
	case setupAgentFile:
		return []string{kindAgentFile}
	case setupAgentHTTPS:
		return []string{kindAgentHTTPS}
	}
	return []string{kindULOGD, kindAgent}
}

// fsType names the filesystem path is on (ext4, tmpfs, …), as findmnt
// does; "?" when it cannot tell.
func fsType(ctx context.Context, path string) string {
	out, err := command(ctx, "findmnt", "-n", "-o", "FSTYPE", "--target", path)
	if t := strings.TrimSpace(string(out)); err == nil && t != "" {
		return t
	}
	return "?"
}

// loadgenReport is bench/loadgen's output.
type loadgenReport struct {
	Sent     uint64  `json:"sent"`
	ElapsedS float64 `json:"elapsed_s"`
	PPS      float64 `json:"pps"`
}

func runOnce(ctx context.Context, o options, l *lab, pids *os.File, setup string, rate float64, rep int) ([]result, error) {
	kinds := readersOf(setup)
	var groups []int
	for _, k := range kinds {
		groups = append(groups, groupOf[k])
	}
	dir, err := os.MkdirTemp(o.work, "run-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	spoolDir := ""
	if setup == setupAgentHTTPS {
		if spoolDir, err = os.MkdirTemp(o.spool, "nflog-agent-bench-spool-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(spoolDir)
	}
	if err := l.loadRules(ctx, groups); err != nil {
		return nil, err
	}
	var readers []*readerRun
	defer func() {
		for _, r := range readers {
			r.killAll()
		}
	}()
	for _, k := range kinds {
		r, err := startReader(k, dir, spoolDir, l.B, "1", o, pids)
		if err != nil {
			return nil, err
		}
		readers = append(readers, r)
	}
	if err := waitBound(ctx, l, readers); err != nil {
		return nil, err
	}
	if setup == setupBoth {
		// ulogd2 makes itself SCHED_RR 99: on a shared CPU the other reader
		// would get only the kernel's 5 % real-time allowance. Both readers
		// share CPU 1 under normal scheduling instead (every thread: -a).
		for _, r := range readers {
			if _, err := command(ctx, "chrt", "-o", "-a", "-p", "0", strconv.Itoa(r.p.pid())); err != nil {
				return nil, err
			}
		}
	}
	time.Sleep(300 * time.Millisecond)
	cpu0 := make([]uint64, len(readers))
	recv0 := make([]uint64, len(readers))
	for i, r := range readers {
		if cpu0[i], err = cpuTicks(r.p.pid()); err != nil {
			return nil, err
		}
		if r.recv != nil {
			if recv0[i], err = cpuTicks(r.recv.pid()); err != nil {
				return nil, err
			}
		}
	}

	gen := exec.CommandContext(ctx, "ip", "netns", "exec", l.A, "taskset", "-c", "0", o.bins.loadgen,
		"-dst", floodDst, "-rate", strconv.FormatFloat(rate, 'f', 0, 64), "-duration", o.duration.String())
	gen.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var genErr strings.Builder
	gen.Stderr = &genErr
	genOut, err := gen.Output()
	if err != nil {
		return nil, fmt.Errorf("loadgen: %w: %s", err, genErr.String())
	}
	floodEnd := time.Now()
	var lg loadgenReport
	if err := json.Unmarshal(genOut, &lg); err != nil {
		return nil, fmt.Errorf("loadgen output %q: %w", genOut, err)
	}

	// The http sink holds a partial batch up to its batch.max_age (1 s by
	// default): its receiver's count may stand still that long before the
	// last batch, and catching up within max-lag means within max-lag of that.
	settle, maxLag := 500*time.Millisecond, o.maxLag
	if setup == setupAgentHTTPS {
		settle, maxLag = settle+httpMaxAge, maxLag+httpMaxAge
	}
	lags, drained := waitDrained(ctx, readers, floodEnd, settle, o.maxDrain)
	res := make([]result, len(readers))
	for i, r := range readers {
		if r.p.exited() {
			return nil, fmt.Errorf("%s exited during the run: %v; stderr:\n%s", r.kind, r.p.err, tail(r.stderr))
		}
		cpu1, err := cpuTicks(r.p.pid())
		if err != nil {
			return nil, err
		}
		rss, err := peakRSS(r.p.pid())
		if err != nil {
			return nil, err
		}
		res[i] = result{
			Rep: rep, Setup: setup, Reader: r.kind, TargetPPS: rate, SentPPS: lg.PPS, Sent: lg.Sent, ElapsedS: lg.ElapsedS,
			LagS: lags[i].Seconds(), Drained: drained[i],
			CPUSeconds: float64(cpu1-cpu0[i]) / clockTicks, PeakRSSMiB: float64(rss) / (1 << 20),
			OutputFS: fsType(ctx, r.dir),
		}
		if r.spool != "" {
			res[i].SpoolFS = fsType(ctx, r.spool)
		}
		if r.recv != nil {
			if r.recv.exited() {
				return nil, fmt.Errorf("receiver exited during the run: %v; stderr:\n%s", r.recv.err, tail(filepath.Join(r.dir, "receiver.stderr")))
			}
			c1, err := cpuTicks(r.recv.pid())
			if err != nil {
				return nil, err
			}
			res[i].ReceiverCPUSecs = float64(c1-recv0[i]) / clockTicks
		}
	}
	ctr, err := l.counters(ctx)
	if err != nil {
		return nil, err
	}
	for i, r := range readers {
		if err := r.p.stop(15 * time.Second); err != nil {
			return nil, fmt.Errorf("%w; stderr:\n%s", err, tail(r.stderr))
		}
		if r.recv != nil {
			// After the agent: what it delivered while stopping counts too.
			if err := r.recv.stop(10 * time.Second); err != nil {
				return nil, fmt.Errorf("%w; stderr:\n%s", err, tail(filepath.Join(r.dir, "receiver.stderr")))
			}
		}
		if o.logs != "" {
			if err := keepLog(r, o.logs, fmt.Sprintf("%s-%.0f-%d", setup, rate, rep)); err != nil {
				return nil, err
			}
		}
		c, err := r.collect()
		if err != nil {
			return nil, fmt.Errorf("%s: %w; stderr:\n%s", r.kind, err, tail(r.stderr))
		}
		x := &res[i]
		x.Logged = ctr["g"+strconv.Itoa(r.group)]
		x.Written, x.KernelLostSeq, x.QueueDropped = c.written, c.kernelLost, c.queueDrop
		x.SpoolDropped, x.SinkDropped = c.spoolDrop, c.sinkDrop
		fillDerived(x, maxLag)
	}
	return res, nil
}

// fillDerived computes loss, CPU per event and the lossless verdict.
func fillDerived(x *result, maxLag time.Duration) {
	if x.Logged > x.Written {
		x.Lost = x.Logged - x.Written
	}
	if x.Logged > 0 {
		x.LossPct = 100 * float64(x.Lost) / float64(x.Logged)
	}
	if x.Written > 0 {
		x.CPUMicrosPerEvent = x.CPUSeconds / float64(x.Written) * 1e6
	}
	x.Lossless = x.Logged > 0 && x.Lost == 0 && x.Drained && x.LagS <= maxLag.Seconds()
}

// waitBound waits until every reader has bound its NFLOG group.
func waitBound(ctx context.Context, l *lab, readers []*readerRun) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		bound, err := l.boundGroups(ctx, l.B)
		if err != nil {
			return err
		}
		ok := true
		for _, r := range readers {
			if r.p.exited() {
				return fmt.Errorf("%s exited at start: %v; stderr:\n%s", r.kind, r.p.err, tail(r.stderr))
			}
			ok = ok && bound[r.group]
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("readers did not bind their NFLOG groups within 15 s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitDrained waits until each reader's output has stopped growing for
// settle (or maxWait has passed) and returns, per reader, how long after
// floodEnd it last grew and whether it settled.
func waitDrained(ctx context.Context, readers []*readerRun, floodEnd time.Time, settle, maxWait time.Duration) ([]time.Duration, []bool) {
	n := len(readers)
	size := make([]int64, n)
	changed := make([]time.Time, n)
	done := make([]bool, n)
	for i, r := range readers {
		size[i], changed[i] = r.outputSize(), floodEnd
	}
	for {
		now := time.Now()
		all := true
		for i, r := range readers {
			if done[i] {
				continue
			}
			if s := r.outputSize(); s != size[i] {
				size[i], changed[i] = s, now
			}
			done[i] = now.Sub(changed[i]) >= settle
			all = all && done[i]
		}
		if all || now.Sub(floodEnd) > maxWait || ctx.Err() != nil {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	lags := make([]time.Duration, n)
	for i := range readers {
		lags[i] = changed[i].Sub(floodEnd)
	}
	return lags, done
}

// keepLog copies a stopped reader's log into dir.
func keepLog(r *readerRun, dir, name string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	src := r.stderr
	if r.kind == kindULOGD {
		src = filepath.Join(r.dir, "ulogd.log")
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name+"-"+r.kind+".log"), b, 0o644)
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

var errNoGnuplot = errors.New("gnuplot not found")
