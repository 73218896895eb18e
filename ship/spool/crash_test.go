package spool_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/nflog-agent/nflog-agent/internal/testenv"
	"time"

	"github.com/nflog-agent/nflog-agent/ship"
	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// The crash-point sweep runs this test binary as a child agent: the real
// spool and a real file sink, appending numbered events while it ships
// them. The child kills itself with SIGKILL right after the Nth spool
// operation of a kind (a write, sync, rename, removal...), or the test kills
// it at a random time; then the test starts it again on the same spool.
const crashChildEnv = "NFLOG_AGENT_SPOOL_CRASH_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(crashChildEnv); spec != "" {
		os.Exit(crashChild(spec))
	}
	os.Exit(m.Run())
}

// childSpec is what one run of the child does.
type childSpec struct {
	Spool, Out string
	From, To   int    // events to append, [From, To)
	Op         string // crash right after operation N of this kind ("" never, "any" every kind)
	N          int64
}

const (
	sweepBatch      = 20 // events per delivered batch: the bound on duplicates after a crash
	sweepAppend     = 16 // events per Append
	sweepRunEvents  = 400
	sweepSegmentMax = 64 << 10 // a segment holds about 60 events: frequent rolls and deletions
)

func sweepEvent(i int) spool.Event {
	id := fmt.Sprintf("ev-%07d", i)
	return spool.Event{
		ID:      []byte(id),
		Time:    time.Unix(1_800_000_000, int64(i)).UTC(),
		Message: fmt.Appendf(nil, "IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=60 N=%d", i),
		JSON:    fmt.Appendf(nil, `{"event":{"id":"%s"},"pad":"%s"}`, id, strings.Repeat("p", 900+i%200)),
	}
}

// crashChild is the child agent's main. It reports on stdout "open
// PENDING" once the spool is open, "durable N" each time an Append of the
// events before N returned, and "drained SENT" when the sink delivered
// everything and it stopped cleanly.
func crashChild(specJSON string) int {
	var spec childSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	var ops atomic.Int64
	hook := func(op string) error {
		if (spec.Op == "any" || op == spec.Op) && ops.Add(1) == spec.N {
			fmt.Fprintf(os.Stderr, "crash right after %s #%d\n", op, spec.N)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
		return nil
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	q, err := spool.Open(spec.Spool, spool.WithAfterIO(spool.Options{SegmentBytes: sweepSegmentMax, Logger: log}, hook))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		return 3
	}
	sh, err := ship.New(q, []ship.SinkConfig{{Type: ship.TypeFile, Name: "out", Path: spec.Out,
		Batch: ship.BatchConfig{MaxEvents: sweepBatch, MaxAge: time.Millisecond}}}, ship.Options{Logger: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: sinks:", err)
		return 3
	}
	fmt.Printf("open %d\n", sh.Stats()[0].SpoolPending)
	sh.Start()
	for i := spec.From; i < spec.To; i += sweepAppend {
		var evs []spool.Event
		for j := i; j < min(i+sweepAppend, spec.To); j++ {
			evs = append(evs, sweepEvent(j))
		}
		if err := q.Append(evs...); err != nil {
			fmt.Fprintln(os.Stderr, "child: append:", err)
			return 4
		}
		fmt.Printf("durable %d\n", i+len(evs))
	}
	for sh.Stats()[0].SpoolPending > 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sh.Shutdown(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "child: shutdown:", err)
		return 5
	}
	st, qs := sh.Stats()[0], q.Stats()
	if err := q.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "child: close:", err)
		return 5
	}
	if len(st.Dropped) > 0 || len(st.Failed) > 0 || qs.AppendErrors > 0 || qs.CursorSaveErrors > 0 || qs.RemoveErrors > 0 {
		fmt.Fprintf(os.Stderr, "child: counters: sink %+v, spool %+v\n", st, qs)
		return 6
	}
	fmt.Printf("drained %d\n", st.Sent)
	return 0
}

// crashPoint is one place the sweep crashes the child at.
type crashPoint struct {
	op string
	n  int64
	// after, when not zero, kills the child that long after its start
	// instead.
	after time.Duration
}

// sweepOps are the operations the sweep crashes after, and how many
// occurrences of each it tries: every one the spool makes while appending,
// rolling segments, saving cursors and deleting delivered segments.
var sweepOps = []opCount{
	{"segment.write", 24}, {"segment.sync", 24}, {"segment.create", 6}, {"segment.header", 6},
	{"dir.sync", 6}, {"segment.remove", 5}, {"cursor.write", 20}, {"cursor.sync", 20}, {"any", 100},
}

// freshOps happen only on a fresh spool: the sweep starts with them.
var freshOps = []opCount{{"cursor.create", 1}, {"cursor.rename", 1}}

type opCount struct {
	op    string
	count int64
}

// sweepPoints are the crash points: first freshOps, then every occurrence
// in sweepOps and random times, shuffled.
func sweepPoints(rng *rand.Rand) []crashPoint {
	points := func(ops []opCount) []crashPoint {
		var pts []crashPoint
		for _, k := range ops {
			for n := range k.count {
				pts = append(pts, crashPoint{op: k.op, n: n + 1})
			}
		}
		return pts
	}
	pts := points(sweepOps)
	for range 30 {
		pts = append(pts, crashPoint{after: time.Duration(1+rng.IntN(60)) * time.Millisecond})
	}
	rng.Shuffle(len(pts), func(i, j int) { pts[i], pts[j] = pts[j], pts[i] })
	return append(points(freshOps), pts...)
}

// sweepState is what the test knows of the events across the child's runs.
type sweepState struct {
	next    int          // the next run appends from this event on
	tried   map[int]bool // events handed to Append: maybe in the spool
	durable map[int]bool // events whose Append returned: in the spool
	copies  map[int]int  // delivered copies of each event
}

// undelivered counts the events of set never delivered.
func (s *sweepState) undelivered(set map[int]bool) int {
	n := 0
	for i := range set {
		if s.copies[i] == 0 {
			n++
		}
	}
	return n
}

// childRun is what a run of the child reported.
type childRun struct {
	crashed bool
	pending int
	sent    int // from a clean stop
	stderr  string
}

func runChild(t *testing.T, st *sweepState, spec childSpec, after time.Duration) childRun {
	t.Helper()
	b, _ := json.Marshal(spec)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+string(b))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if after > 0 {
		timer := time.AfterFunc(after, func() { cmd.Process.Kill() })
		defer timer.Stop()
	}
	// A child that never finishes is a hang, not a crash.
	var hung atomic.Bool
	guard := time.AfterFunc(2*time.Minute, func() {
		hung.Store(true)
		cmd.Process.Kill()
	})
	defer guard.Stop()
	run := childRun{pending: -1}
	// An Append may have stored its events even if it never returned, but
	// the next one never started: "durable" is printed before it.
	markTried := func(from int) {
		for i := from; i < min(from+sweepAppend, spec.To); i++ {
			st.tried[i] = true
		}
	}
	markTried(spec.From)
	last := spec.From
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		word, num, _ := strings.Cut(sc.Text(), " ")
		n, _ := strconv.Atoi(num)
		switch word {
		case "open":
			run.pending = n
		case "durable":
			for i := last; i < n; i++ {
				st.durable[i] = true
			}
			last = n
			markTried(n)
		case "drained":
			run.sent = n
		}
	}
	err = cmd.Wait()
	run.stderr = stderr.String()
	var exit *exec.ExitError
	switch {
	case hung.Load():
		t.Fatalf("child %+v hung\n%s", spec, run.stderr)
	case err == nil:
	case errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL:
		run.crashed = true
	default:
		t.Fatalf("child %+v: %v\n%s", spec, err, run.stderr)
	}
	return run
}

// collect reads what the sink wrote during a run, counts it, and empties
// the file for the next run. A line torn by the crash was not delivered:
// its batch was not committed, so it comes again.
func collect(t *testing.T, st *sweepState, path string) (lines, dups int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 0); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		b = nil
	}
	for line := range bytes.Lines(b) {
		var ev struct {
			Event struct{ ID string } `json:"event"`
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatalf("sink line is not an event: %v\n%q", err, line)
		}
		n, err := strconv.Atoi(strings.TrimPrefix(ev.Event.ID, "ev-"))
		if err != nil || !st.tried[n] {
			t.Fatalf("sink delivered an event never appended: %q", line)
		}
		if want := append(sweepEvent(n).JSON, '\n'); !bytes.Equal(line, want) {
			t.Fatalf("event %d delivered as %q", n, line)
		}
		if st.copies[n] > 0 {
			dups++
		}
		st.copies[n]++
		lines++
	}
	return lines, dups
}

// TestCrashPointSweep kills the child agent at every crash point in turn
// and starts it again each time on the same spool. After every crash the
// spool must open, hold every event whose Append returned and was not
// delivered yet, and send again at most the one batch that was in flight;
// at the end every such event was delivered, and the counters balance.
func TestCrashPointSweep(t *testing.T) {
	if testing.Short() {
		testenv.Skipf(t, "-short: the sweep runs the child agent a few hundred times")
	}
	seed := time.Now().UnixNano()
	t.Logf("random crash times from seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	spoolDir, out := filepath.Join(t.TempDir(), "spool"), filepath.Join(t.TempDir(), "out.ndjson")
	st := &sweepState{tried: map[int]bool{}, durable: map[int]bool{}, copies: map[int]int{}}
	hit, timed := map[string]int{}, 0 // crashes at chosen points, by operation, and at random times
	for _, pt := range sweepPoints(rng) {
		spec := childSpec{Spool: spoolDir, Out: out, From: st.next, To: st.next + sweepRunEvents, Op: pt.op, N: pt.n}
		st.next = spec.To
		// Before the run: what the spool must still hold, and at most what
		// it may hold (the events not delivered, plus one batch delivered
		// but not committed).
		mustHold, mayHold := st.undelivered(st.durable), st.undelivered(st.tried)+sweepBatch
		run := runChild(t, st, spec, pt.after)
		lines, dups := collect(t, st, out)
		if testing.Verbose() {
			t.Logf("%+v: crashed %v, pending at open %d (%d..%d), delivered %d (%d again)",
				pt, run.crashed, run.pending, mustHold, mayHold, lines, dups)
		}
		// -1: killed before it reported, possibly while opening.
		if run.pending != -1 && (run.pending < mustHold || run.pending > mayHold) {
			ents, _ := os.ReadDir(spoolDir)
			for _, e := range ents {
				info, _ := e.Info()
				t.Logf("%s %d", e.Name(), info.Size())
			}
			t.Fatalf("at %+v: the spool opened with %d events pending, want %d to %d\n%s",
				pt, run.pending, mustHold, mayHold, run.stderr)
		}
		if dups > sweepBatch {
			t.Fatalf("at %+v: %d events delivered again, more than one batch of %d\n%s", pt, dups, sweepBatch, run.stderr)
		}
		switch {
		case run.crashed && pt.after > 0:
			timed++
		case run.crashed:
			hit[pt.op]++
		}
	}

	// A last run without crash delivers what is left.
	mustHold := st.undelivered(st.durable)
	run := runChild(t, st, childSpec{Spool: spoolDir, Out: out, From: st.next, To: st.next}, 0)
	lines, dups := collect(t, st, out)
	if run.crashed || run.pending < mustHold || run.sent != lines || dups > sweepBatch {
		t.Fatalf("last run: pending %d (want >= %d), sent %d, lines %d, %d delivered again\n%s",
			run.pending, mustHold, run.sent, lines, dups, run.stderr)
	}
	if n := st.undelivered(st.durable); n > 0 {
		t.Fatalf("%d events whose Append returned were never delivered", n)
	}
	points := 0
	for _, n := range hit {
		points += n
	}
	for _, k := range append(freshOps, sweepOps...) {
		if hit[k.op] == 0 {
			t.Errorf("no crash right after %s", k.op)
		}
	}
	if points < 200 {
		t.Fatalf("the child crashed at %d chosen points (%v), want at least 200", points, hit)
	}
	t.Logf("crashes at %d chosen points %v and %d random times; %d events appended, %d durable, all delivered",
		points, hit, timed, len(st.tried), len(st.durable))
}
