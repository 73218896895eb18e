package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// machine describes where the numbers come from.
type machine struct {
	Date, CPU, Hypervisor, Memory, Kernel, OS, Go, ULOGD, Agent string
	CPUs                                                        int
	LoadStart, LoadBefore, LoadAfter, Elapsed                   string
	OutputFS, SpoolFS                                           string // filesystems the runs used, as findmnt names them
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

func describeMachine(ctx context.Context, bins binaries) machine {
	m := machine{Date: time.Now().UTC().Format("2006-01-02 15:04 MST"), CPUs: runtime.NumCPU(), Go: runtime.Version(), LoadBefore: loadAvg()}
	if out, err := exec.CommandContext(ctx, "lscpu").Output(); err == nil {
		for line := range strings.Lines(string(out)) {
			k, v, _ := strings.Cut(line, ":")
			switch strings.TrimSpace(k) {
			case "Model name":
				m.CPU = strings.TrimSpace(v)
			case "Hypervisor vendor":
				m.Hypervisor = strings.TrimSpace(v)
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.Memory = strings.Join(strings.Fields(firstLine(b))[1:], " ")
	}
	if out, err := exec.CommandContext(ctx, "uname", "-r").Output(); err == nil {
		m.Kernel = firstLine(out)
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				m.OS = strings.Trim(strings.TrimSpace(v), `"`)
			}
		}
	}
	if out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f", "${Version}", "ulogd2").Output(); err == nil {
		m.ULOGD = "ulogd2 " + firstLine(out) + " (Debian)"
	}
	if out, err := exec.CommandContext(ctx, bins.agent, "version").Output(); err == nil {
		m.Agent = firstLine(out)
	}
	return m
}

// row aggregates the repetitions of one reader at one step of one setup.
type row struct {
	Setup, Reader string
	Target        float64
	Sent          []float64
	Logged        []float64 // events per second the kernel logged for the reader
	Loss, CPU     []float64
	Lag, RSS      []float64
	Lossless, N   int
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// aggregate groups results by setup, reader and step, in setup order
// (ulogd2 alone, agent alone, both), ulogd2 first, rates ascending.
func aggregate(results []result) []*row {
	var rows []*row
	idx := map[string]*row{}
	for _, r := range results {
		key := fmt.Sprintf("%s/%s/%g", r.Setup, r.Reader, r.TargetPPS)
		x := idx[key]
		if x == nil {
			x = &row{Setup: r.Setup, Reader: r.Reader, Target: r.TargetPPS}
			idx[key] = x
			rows = append(rows, x)
		}
		x.N++
		x.Sent = append(x.Sent, r.SentPPS)
		x.Logged = append(x.Logged, float64(r.Logged)/r.ElapsedS)
		x.Loss = append(x.Loss, r.LossPct)
		x.CPU = append(x.CPU, r.CPUMicrosPerEvent)
		x.Lag = append(x.Lag, r.LagS)
		x.RSS = append(x.RSS, r.PeakRSSMiB)
		if r.Lossless {
			x.Lossless++
		}
	}
	setupOrder := map[string]int{setupULOGD: 0, setupAgent: 1, setupAgentFile: 2, setupBoth: 3, setupAgentHTTPS: 4}
	readerOrder := map[string]int{kindULOGD: 0, kindAgent: 1, kindAgentFile: 2, kindAgentHTTPS: 3}
	slices.SortStableFunc(rows, func(a, b *row) int {
		if c := setupOrder[a.Setup] - setupOrder[b.Setup]; c != 0 {
			return c
		}
		if c := readerOrder[a.Reader] - readerOrder[b.Reader]; c != 0 {
			return c
		}
		switch {
		case a.Target < b.Target:
			return -1
		case a.Target > b.Target:
			return 1
		}
		return 0
	})
	return rows
}

// fsList names the filesystems of (fs of) the runs, each once: "ext4",
// "ext4 and tmpfs".
func fsList(results []result, fs func(result) string) string {
	var names []string
	for _, r := range results {
		if n := fs(r); n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	if len(names) == 0 {
		return "?"
	}
	return strings.Join(names, " and ")
}

func setupLabel(setup string) string {
	if setup == setupBoth {
		return "both at once"
	}
	return "alone"
}

func seriesLabel(r *row) string {
	if r.Setup == setupBoth {
		return r.Reader + " (both at once)"
	}
	return r.Reader + " alone"
}

// lossless is a reader's highest step below which (inclusive) every run
// was lossless, and whether that is the top step (the reader never lost:
// the real limit is higher than measured).
type lossless struct {
	Setup, Reader string
	Target, Sent  float64 // 0 if not even the lowest step was lossless
	Top           bool
}

func losslessRates(rows []*row) []lossless {
	var out []lossless
	for i := 0; i < len(rows); {
		j := i
		l := lossless{Setup: rows[i].Setup, Reader: rows[i].Reader}
		broken := false
		for ; j < len(rows) && rows[j].Setup == l.Setup && rows[j].Reader == l.Reader; j++ {
			if broken {
				continue
			}
			if rows[j].Lossless == rows[j].N {
				l.Target, l.Sent = rows[j].Target, median(rows[j].Sent)
			} else {
				broken = true
			}
		}
		l.Top = !broken
		out = append(out, l)
		i = j
	}
	return out
}

func findLossless(ls []lossless, setup, reader string) (lossless, bool) {
	for _, l := range ls {
		if l.Setup == setup && l.Reader == reader {
			return l, true
		}
	}
	return lossless{}, false
}

// topRow is the row of the highest step of one setup's reader.
func topRow(rows []*row, setup, reader string) *row {
	var top *row
	for _, r := range rows {
		if r.Setup == setup && r.Reader == reader && (top == nil || r.Target > top.Target) {
			top = r
		}
	}
	return top
}

func findRow(rows []*row, setup, reader string, target float64) *row {
	for _, r := range rows {
		if r.Setup == setup && r.Reader == reader && r.Target == target {
			return r
		}
	}
	return nil
}

// budget is one performance target the report judges (lossless rate, CPU
// per event, memory against ulogd2's), evaluated on the "alone" setups.
type budget struct{ Name, Verdict, Detail string }

func budgets(rows []*row, ls []lossless) []budget {
	var out []budget
	u, okU := findLossless(ls, setupULOGD, kindULOGD)
	a, okA := findLossless(ls, setupAgent, kindAgent)
	b := budget{Name: "highest lossless rate ≥ 2× ulogd2's (each alone)", Verdict: "n/a"}
	if okU && okA {
		switch {
		case u.Target == 0:
			b.Detail = "ulogd2 lost events at every step: no lossless rate to compare with"
		default:
			// Judged on the steps (the measured rates differ by noise only).
			ratio := a.Target / u.Target
			b.Verdict = verdict(ratio >= 2)
			if b.Verdict != "met" && a.Top {
				b.Verdict = "not shown"
			}
			b.Detail = fmt.Sprintf("nflog-agent %s%s step (%.0f ev/s offered) vs ulogd2 %s%s step (%.0f ev/s): %.1f×",
				atLeast(a.Top), kpps(a.Target), a.Sent, atLeast(u.Top), kpps(u.Target), u.Sent, ratio)
			if a.Top {
				b.Detail += " (the agent lost nothing at the highest rate offered: its limit is higher)"
			}
		}
	}
	out = append(out, b)

	b = budget{Name: "CPU per event ≤ ulogd2's (each alone, steps where both were lossless)", Verdict: "n/a"}
	worst, n := 0.0, 0
	for _, ru := range rows {
		if ru.Setup != setupULOGD || ru.Lossless != ru.N {
			continue
		}
		ra := findRow(rows, setupAgent, kindAgent, ru.Target)
		if ra == nil || ra.Lossless != ra.N {
			continue
		}
		n++
		worst = max(worst, median(ra.CPU)/median(ru.CPU))
	}
	if n > 0 {
		b.Verdict = verdict(worst <= 1)
		b.Detail = fmt.Sprintf("agent/ulogd2 CPU per event, highest ratio over %d steps: %.2f", n, worst)
	}
	out = append(out, b)

	b = budget{Name: "peak RSS ≤ 64 MiB at 100k events/s (agent alone)", Verdict: "n/a", Detail: "no 100k step in this run"}
	if r := findRow(rows, setupAgent, kindAgent, 100000); r != nil {
		peak := slices.Max(r.RSS)
		b.Verdict = verdict(peak <= 64)
		b.Detail = fmt.Sprintf("%.1f MiB (highest of %d runs)", peak, r.N)
	}
	out = append(out, b)
	out = append(out, atGeneratorMax(rows, ls)...)
	out = append(out, cpuAt100k(rows, setupAgent, kindAgent, 3), cpuAt100k(rows, setupAgentHTTPS, kindAgentHTTPS, 4.5))
	return append(out, rssEverywhere(rows))
}

// atGeneratorMax is the lossless budget of each nflog-agent setup run alone:
// lossless at every step, the top one included, where the generator offers
// all it can. Where it is missed, the detail says how many events per
// second the reader's one CPU could take at the CPU per event it needed at
// the top step.
func atGeneratorMax(rows []*row, ls []lossless) []budget {
	var out []budget
	for _, setup := range []string{setupAgent, setupAgentFile, setupAgentHTTPS} {
		l, ok := findLossless(ls, setup, readersOf(setup)[0])
		if !ok {
			continue
		}
		b := budget{Name: fmt.Sprintf("%s lossless at the generator's highest rate", l.Reader), Verdict: verdict(l.Top)}
		switch {
		case l.Top:
			b.Detail = fmt.Sprintf("lossless at every step, the top one included (%s step, %.0f ev/s offered)", kpps(l.Target), l.Sent)
		case l.Target == 0:
			b.Detail = "lost events at every step"
		default:
			b.Detail = fmt.Sprintf("lossless up to the %s step (%.0f ev/s offered), not above", kpps(l.Target), l.Sent)
		}
		if top := topRow(rows, l.Setup, l.Reader); !l.Top && top != nil {
			cpu := median(top.CPU)
			b.Detail += fmt.Sprintf("; at the %s step it needed %.2f µs of CPU per event: its one CPU takes at most ~%.0fk events/s at that cost",
				kpps(top.Target), cpu, 1e3/cpu)
		}
		out = append(out, b)
	}
	return out
}

// cpuAt100k is the budget of CPU per event at the 100k step for one setup.
func cpuAt100k(rows []*row, setup, reader string, limitUS float64) budget {
	b := budget{Name: fmt.Sprintf("CPU per event at 100k ≤ %g µs (%s alone)", limitUS, reader), Verdict: "n/a",
		Detail: "no such run"}
	if r := findRow(rows, setup, reader, 100000); r != nil {
		cpu := median(r.CPU)
		b.Verdict = verdict(cpu <= limitUS)
		b.Detail = fmt.Sprintf("%.2f µs (median of %d runs; %.2f–%.2f)", cpu, r.N, slices.Min(r.CPU), slices.Max(r.CPU))
	}
	return b
}

// rssEverywhere is the memory budget over every nflog-agent run: floods
// and every setup included.
func rssEverywhere(rows []*row) budget {
	b := budget{Name: "peak RSS ≤ 64 MiB at every step (every nflog-agent setup)", Verdict: "n/a", Detail: "no nflog-agent run"}
	var worst *row
	for _, r := range rows {
		if r.Reader != kindULOGD && (worst == nil || slices.Max(r.RSS) > slices.Max(worst.RSS)) {
			worst = r
		}
	}
	if worst != nil {
		peak := slices.Max(worst.RSS)
		b.Verdict = verdict(peak <= 64)
		b.Detail = fmt.Sprintf("highest %.1f MiB: %s %s at %s", peak, worst.Reader, setupLabel(worst.Setup), kpps(worst.Target))
	}
	return b
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

func atLeast(top bool) string {
	if top {
		return "≥ "
	}
	return ""
}

func kpps(v float64) string { return fmt.Sprintf("%.0fk", v/1000) }

func spread(v []float64, format string) string {
	m := fmt.Sprintf(format, median(v))
	if len(v) < 2 {
		return m
	}
	return fmt.Sprintf("%s ("+format+"–"+format+")", m, slices.Min(v), slices.Max(v))
}

func writeResults(o options, m machine, results []result) error {
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	if err := writeCSV(filepath.Join(o.out, "results.csv"), results); err != nil {
		return err
	}
	m.OutputFS = fsList(results, func(r result) string { return r.OutputFS })
	m.SpoolFS = fsList(results, func(r result) string { return r.SpoolFS })
	rows := aggregate(results)
	ls := losslessRates(rows)
	chartErr := writeChart(o.out, rows)
	md := markdown(o, m, rows, ls, budgets(rows, ls), chartErr == nil)
	if err := os.WriteFile(filepath.Join(o.out, "README.md"), []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Print("\n" + md)
	if chartErr != nil {
		fmt.Fprintf(os.Stderr, "nflogbench: no chart: %v\n", chartErr)
	}
	fmt.Printf("\nresults written to %s/ (README.md, results.csv, chart.png)\n", o.out)
	return nil
}

func writeCSV(path string, results []result) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"rep", "setup", "reader", "target_pps", "sent_pps", "sent", "elapsed_s", "logged", "written", "lost", "loss_pct",
		"kernel_lost_seq", "queue_dropped", "lag_s", "drained", "cpu_s", "cpu_s_per_million_events", "peak_rss_mib", "lossless", "receiver_cpu_s",
		"output_fs", "spool_fs", "spool_dropped", "sink_dropped"})
	ff := func(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	for _, r := range results {
		w.Write([]string{strconv.Itoa(r.Rep), r.Setup, r.Reader, ff(r.TargetPPS, 0), ff(r.SentPPS, 0), u(r.Sent), ff(r.ElapsedS, 3), u(r.Logged),
			u(r.Written), u(r.Lost), ff(r.LossPct, 3), u(r.KernelLostSeq), u(r.QueueDropped), ff(r.LagS, 2),
			strconv.FormatBool(r.Drained), ff(r.CPUSeconds, 2), ff(r.CPUMicrosPerEvent, 2), ff(r.PeakRSSMiB, 1),
			strconv.FormatBool(r.Lossless), ff(r.ReceiverCPUSecs, 2), r.OutputFS, r.SpoolFS,
			u(r.SpoolDropped), u(r.SinkDropped)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeChart draws loss % and CPU per event against the offered rate, one
// line per reader and setup, with gnuplot.
func writeChart(dir string, rows []*row) error {
	gp, err := exec.LookPath("gnuplot")
	if err != nil {
		return errNoGnuplot
	}
	var data strings.Builder
	var series []string
	for i := 0; i < len(rows); {
		label := seriesLabel(rows[i])
		if len(series) > 0 {
			data.WriteString("\n\n")
		}
		fmt.Fprintf(&data, "# %s\n", label)
		series = append(series, label)
		for ; i < len(rows) && seriesLabel(rows[i]) == label; i++ {
			fmt.Fprintf(&data, "%.3f %.4f %.3f\n", median(rows[i].Sent)/1000, median(rows[i].Loss), median(rows[i].CPU))
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "chart.dat"), []byte(data.String()), 0o644); err != nil {
		return err
	}
	styles := map[string]string{
		"ulogd2 alone": `lc rgb "#d62728" lw 2 pt 7`, "nflog-agent alone": `lc rgb "#1f77b4" lw 2 pt 7`,
		"ulogd2 (both at once)": `lc rgb "#d62728" lw 2 dt 2 pt 6`, "nflog-agent (both at once)": `lc rgb "#1f77b4" lw 2 dt 2 pt 6`,
	}
	plot := func(col int) string {
		var p []string
		for i, s := range series {
			p = append(p, fmt.Sprintf(`'chart.dat' index %d using 1:%d with linespoints %s title "%s"`, i, col, styles[s], s))
		}
		return "plot " + strings.Join(p, ", \\\n     ")
	}
	script := fmt.Sprintf(`# Written by bench/nflogbench; run in this directory: gnuplot chart.gp
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) { set terminal pngcairo size 1400,560 font "sans,11" } else { set terminal png size 1400,560 }
set output 'chart.png'
set multiplot layout 1,2 title "nflog-agent vs ulogd2: same kernel flood, readers pinned to one CPU (median per step)"
set grid
set key top left opaque
set xlabel "offered rate (thousand packets/s, measured at the generator)"
set ylabel "events lost (%% of those the kernel logged)"
set yrange [0:*]
%s
set ylabel "reader CPU per event (µs) = CPU seconds per million events"
set key top right
%s
unset multiplot
`, plot(2), plot(3))
	if err := os.WriteFile(filepath.Join(dir, "chart.gp"), []byte(script), 0o644); err != nil {
		return err
	}
	cmd := exec.Command(gp, "chart.gp")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gnuplot: %w: %s", err, out)
	}
	return nil
}

func markdown(o options, m machine, rows []*row, ls []lossless, bs []budget, chart bool) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# nflog-agent vs ulogd2: side-by-side benchmark\n\n")
	p("Written by `make bench` (bench/run.sh → bench/nflogbench) on %s; do not edit by hand, run it again.", m.Date)
	if o.note != "" {
		p(" **%s**", o.note)
	}
	p(" Method notes, findings and what is not measured yet: [NOTES.md](NOTES.md).")
	p("\n\n## Machine\n\n")
	p("| | |\n|---|---|\n")
	p("| CPU | %s, %d vCPU (%s guest) |\n| memory | %s |\n| kernel | Linux %s, %s |\n", m.CPU, m.CPUs, orQ(m.Hypervisor), m.Memory, m.Kernel, m.OS)
	p("| filesystems | readers' output: %s; agent-https spool: %s |\n", m.OutputFS, m.SpoolFS)
	p("| readers | %s; %s (%s) |\n", orQ(m.ULOGD), orQ(m.Agent), m.Go)
	p("| load average (1, 5, 15 min) | ")
	if m.LoadStart != "" {
		p("at `make bench` start: %s; ", m.LoadStart)
	}
	p("when the floods began: %s; at the end: %s. The benchmark itself keeps both CPUs busy, so only the first figure tells whether something else was running; above about 0.7 the numbers are noisy |\n", m.LoadBefore, m.LoadAfter)
	p("| sweep | steps %s, %v flood each, %d repetition(s), %s in all |\n\n", stepList(o.steps), o.duration, o.repeat, m.Elapsed)

	p("## Setup\n\n")
	p("Namespace A floods namespace B with UDP (`bench/loadgen`, sendmmsg, paced, pinned to CPU 0, where the kernel also\n")
	p("builds the NFLOG messages in the sender's softirq). In B, one nft input rule per reader logs every flood packet\n")
	p("(`counter log prefix \"IPTABLES: ACCEPT \" group N`), then a rule drops it. ulogd2 reads group %d (NFLOG → BASE →\n", groupOf[kindULOGD])
	p("IFINDEX → IP2STR → HWHDR → JSON file, sequence numbers on), nflog-agent group %d (NDJSON on stdout into a file).\n", groupOf[kindAgent])
	p("The readers' output files are on %s. Both readers get the same kernel batching settings (%d packets or %d ms) and socket\n", m.OutputFS, queueThreshold, flushTimeoutMS)
	p("buffer (%d MiB requested, growing to %d MiB on ENOBUFS) and run pinned to CPU 1. The agent also asks the kernel\n", readBuffer>>20, readBufferMax>>20)
	p("for batches of up to 64 KiB (`NFULA_CFG_NLBUFSIZ`), which ulogd2 2.0.8 has no setting for: its batches end at the\n")
	p("kernel's default of about one page (4 KiB, some 15 messages here). Setups:\n\n")
	p("- **alone**: one reader, only its rule loaded. ulogd2 keeps its own real-time priority (SCHED_RR 99);\n")
	if o.agentRT {
		p("  nflog-agent was given the same (`chrt -r 99`, BENCH_AGENT_RT=1).\n")
	} else {
		p("  nflog-agent runs with normal scheduling, as its systemd unit does (on a loaded machine this favours ulogd2).\n")
	}
	p("- **agent-file** (alone): nflog-agent group %d with a `file` sink (NDJSON, one fsync per batch) instead of stdout.\n", groupOf[kindAgentFile])
	p("- **both at once**: both rules, both readers on CPU 1; ulogd2 demoted to normal scheduling (`chrt -o -p 0`),\n")
	p("  since otherwise it starves the other reader and the run measures the scheduler. The kernel builds two\n")
	p("  messages per packet on CPU 0, so the generator reaches lower rates.\n\n")
	p("Per run and reader: **offered** = packets/s the generator really sent; **logged** = the reader's rule counter;\n")
	p("**lost** = logged − events in the output (this includes losses at the very end of a flood that no sequence gap\n")
	p("reveals); **lag** = how long after the flood the output kept growing; **CPU** = utime+stime of the reader\n")
	p("process (/proc/PID/stat) from just before the flood until its output stopped growing, per event written\n")
	p("(µs per event = CPU seconds per million events); **RSS** = VmHWM of the fresh reader process. A run is\n")
	p("**lossless** when nothing was lost and the reader caught up within %v of the flood's end (a reader that\n", o.maxLag)
	p("only survives because the burst fits its socket buffer is not keeping up). Budgets are judged on the alone setups.\n\n")

	p("## Highest lossless rate\n\n| setup | reader | highest lossless step | offered there (measured) |\n|---|---|---|---|\n")
	for _, l := range ls {
		if l.Target == 0 {
			p("| %s | %s | none (lost at %s) | – |\n", setupLabel(l.Setup), l.Reader, kpps(o.steps[0]))
			continue
		}
		p("| %s | %s | %s%s | %s%.0f ev/s |\n", setupLabel(l.Setup), l.Reader, atLeast(l.Top), kpps(l.Target), atLeast(l.Top), l.Sent)
	}
	p("\n“≥” means the reader lost nothing even at the highest rate the generator could offer in that setup.\n\n")

	p("## Budgets (this machine)\n\n| budget | verdict | detail |\n|---|---|---|\n")
	for _, x := range bs {
		p("| %s | %s | %s |\n", x.Name, x.Verdict, x.Detail)
	}
	if chart {
		p("\n## Chart\n\n![loss and CPU per event against offered rate](chart.png)\n")
	}
	p("\n## All steps\n\nMedian over repetitions, (min–max) when there are several. Raw runs: [results.csv](results.csv).\n\n")
	p("| setup | reader | target | offered pps | logged ev/s | loss %% | lag s | CPU µs/event | peak RSS MiB | lossless runs |\n")
	p("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		p("| %s | %s | %s | %.0f | %.0f | %s | %s | %s | %s | %d/%d |\n", setupLabel(r.Setup), r.Reader, kpps(r.Target),
			median(r.Sent), median(r.Logged), spread(r.Loss, "%.2f"), spread(r.Lag, "%.2f"), spread(r.CPU, "%.2f"),
			spread(r.RSS, "%.1f"), r.Lossless, r.N)
	}
	https := false
	for _, r := range rows {
		https = https || r.Setup == setupAgentHTTPS
	}
	if https {
		p("\n**%s**: nflog-agent alone on CPU 1, shipping to `nflogbench receive`, an HTTPS receiver on B's loopback\n", kindAgentHTTPS)
		p("(self-signed certificate as the sink's `tls.ca_file`, `http` sink, NDJSON, gzip, spool directory on %s, as findmnt names it).\n", m.SpoolFS)
		p("Written = events the receiver counted, including any delivered while the agent stopped; lag = until its count\n")
		p("stopped growing (for %v, not 0.5 s: the sink holds a partial batch up to its batch.max_age, %v), and a run is\n", 500*time.Millisecond+httpMaxAge, httpMaxAge)
		p("lossless if it caught up within %v (max-lag + max_age). CPU and RSS are the agent's; the receiver (pinned to CPU %s, the generator's) is not counted\n", o.maxLag+httpMaxAge, recvCPU)
		p("(its CPU is in results.csv, `receiver_cpu_s`).\n")
	} else {
		p("\nHTTPS shipping (nflog-agent → HTTPS receiver on loopback, gzip, spool on) was not run: setup `agent-https`\n")
		p("(`BENCH_SETUPS=agent-https`).\n")
	}
	return b.String()
}

func orQ(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

func stepList(steps []float64) string {
	var s []string
	for _, v := range steps {
		s = append(s, kpps(v))
	}
	return strings.Join(s, ", ")
}
