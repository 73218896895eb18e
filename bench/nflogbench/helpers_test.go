package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// The command name may hold spaces and parentheses.
	line := "4242 (ulo gd) (x)) S 1 4242 4242 0 -1 4194560 150 0 0 0 123 45 0 0 -51 0 1 0 4040 2490368 512 18446744073709551615"
	got, err := parseStatCPU(line)
	if err != nil || got != 168 {
		t.Fatalf("parseStatCPU = %d, %v; want 168", got, err)
	}
	if _, err := parseStatCPU("4242 (x) S 1 2"); err == nil {
		t.Error("short stat line: no error")
	}
}

func TestParseVmHWM(t *testing.T) {
	got, err := parseVmHWM("Name:\tulogd\nVmPeak:\t  9000 kB\nVmHWM:\t    2148 kB\nVmRSS:\t 2000 kB\n")
	if err != nil || got != 2148<<10 {
		t.Fatalf("parseVmHWM = %d, %v", got, err)
	}
	if _, err := parseVmHWM("Name:\tx\n"); err == nil {
		t.Error("no VmHWM: no error")
	}
}

func TestScanSeq(t *testing.T) {
	// Lines 0, 1, then 2..4 lost, 5, 6, a line without the key, 9.
	var b strings.Builder
	for _, s := range []string{"0", "1", "5", "6", "", "9"} {
		if s == "" {
			b.WriteString("{\"dvc\": \"x\"}\n")
			continue
		}
		b.WriteString(`{"oob.seq.local": ` + s + `, "oob.seq.global": 77}` + "\n")
	}
	s, err := scanSeq(strings.NewReader(b.String()), []byte(`"oob.seq.local": `))
	if err != nil {
		t.Fatal(err)
	}
	if s.lines != 6 || s.withSeq != 5 || s.gaps != 5 || s.first != 0 || s.last != 9 {
		t.Errorf("scanSeq = %+v; want 6 lines, 5 with seq, 5 missing, 0..9", s)
	}
	// A first number above 0: the events before it were lost.
	s, _ = scanSeq(strings.NewReader(`{"oob.seq.local": 3}`+"\n"), []byte(`"oob.seq.local": `))
	if s.gaps != 3 {
		t.Errorf("first seq 3: gaps %d, want 3", s.gaps)
	}
}

func TestAgentTotals(t *testing.T) {
	stderr := `time=2026-11-30T02:44:00Z level=INFO msg="reading NFLOG group" group=6 snaplen=1024
time=2026-11-30T02:44:09Z level=INFO msg="group totals" group=5 received=1 kernel_lost=2
time=2026-11-30T02:44:09Z level=INFO msg="group totals" group=6 received=99987 kernel_lost=13 enobufs=1 queue_dropped=7 decode_errors=0 reopens=0 read_buffer=16777216
time=2026-11-30T02:44:09Z level=WARN msg="events dropped before the spool (its input buffer was full)" group=6 spool_dropped=5
time=2026-11-30T02:44:09Z level=INFO msg="sink totals" sink=stdout sent=99970 failed=0 dropped=4 pending=0
`
	m, ok := agentLine(stderr, "group totals", 6)
	if !ok || m["received"] != 99987 || m["kernel_lost"] != 13 || m["queue_dropped"] != 7 {
		t.Errorf("group totals = %v, %v", m, ok)
	}
	if _, ok := agentLine(stderr, "group totals", 7); ok {
		t.Error("group 7 found")
	}
	if c := agentCounts(99970, map[string]uint64{"spool_dropped": 5, "dropped": 4, "queue_dropped": 7}); c.spoolDrop != 5 || c.sinkDrop != 4 || c.queueDrop != 7 {
		t.Errorf("counts %+v", c)
	}
	if s, ok := agentLine(stderr, "sink totals", -1); !ok || s["dropped"] != 4 || s["sent"] != 99970 {
		t.Errorf("sink totals = %v, %v", s, ok)
	}
}

func TestParseCounters(t *testing.T) {
	out := `table inet nflbench {
	chain input {
		type filter hook input priority filter; policy accept;
		ip saddr 10.231.0.1 udp dport 9000 counter packets 1234 bytes 56 log prefix "IPTABLES: ACCEPT " group 5 comment "g5"
		ip saddr 10.231.0.1 udp dport 9000 counter packets 99 bytes 1 drop comment "drop"
	}
}`
	m := parseCounters(out)
	if m["g5"] != 1234 || m["drop"] != 99 || len(m) != 2 {
		t.Errorf("parseCounters = %v", m)
	}
	if !strings.Contains(ruleset([]int{5, 6}), `group 6 comment "g6"`) {
		t.Error("ruleset lacks the group 6 rule")
	}
}

func TestParseRates(t *testing.T) {
	got, err := parseRates("25k, 1.5M,1000")
	if err != nil || len(got) != 3 || got[0] != 25000 || got[1] != 1.5e6 || got[2] != 1000 {
		t.Errorf("parseRates = %v, %v", got, err)
	}
	if _, err := parseRates("25k,x"); err == nil {
		t.Error("bad rate accepted")
	}
}

func TestLosslessAndBudgets(t *testing.T) {
	mk := func(setup, reader string, target float64, lossless bool, cpu, rss float64) result {
		r := result{Setup: setup, Reader: reader, TargetPPS: target, SentPPS: target, ElapsedS: 1, Logged: 10,
			Written: 10, Drained: true, CPUSeconds: cpu * 10 / 1e6, PeakRSSMiB: rss}
		if !lossless {
			r.Written = 5
		}
		fillDerived(&r, time.Second)
		return r
	}
	res := []result{
		mk(setupAgent, kindAgent, 100000, true, 5, 30),
		mk(setupAgent, kindAgent, 50000, true, 5, 30),
		mk(setupAgent, kindAgent, 200000, true, 5, 30),
		mk(setupULOGD, kindULOGD, 50000, true, 15, 2),
		mk(setupULOGD, kindULOGD, 100000, false, 15, 2),
		mk(setupULOGD, kindULOGD, 200000, true, 15, 2), // lossless again above a lossy step: does not count
	}
	rows := aggregate(res)
	if rows[0].Reader != kindULOGD || rows[0].Target != 50000 || rows[3].Reader != kindAgent || rows[3].Target != 50000 {
		t.Fatalf("aggregate order: %+v %+v", rows[0], rows[3])
	}
	ls := losslessRates(rows)
	u, _ := findLossless(ls, setupULOGD, kindULOGD)
	a, _ := findLossless(ls, setupAgent, kindAgent)
	if u.Target != 50000 || u.Top || a.Target != 200000 || !a.Top {
		t.Errorf("lossless: ulogd2 %+v, agent %+v", u, a)
	}
	bs := budgets(rows, ls)
	for i, want := range []string{"met", "met", "met", "met"} {
		if bs[i].Verdict != want {
			t.Errorf("budget %q: %s (%s), want %s", bs[i].Name, bs[i].Verdict, bs[i].Detail, want)
		}
	}

	// A flood that takes one agent setup over 64 MiB misses the memory
	// budget, whatever the others do; ulogd2 does not count.
	res = append(res, mk(setupAgentHTTPS, kindAgentHTTPS, 400000, false, 8, 70), mk(setupULOGD, kindULOGD, 400000, false, 15, 90))
	b := rssEverywhere(aggregate(res))
	if b.Verdict != "missed" || !strings.Contains(b.Detail, "70.0 MiB: nflog-agent-https alone at 400k") {
		t.Errorf("RSS everywhere: %+v", b)
	}

	// A setup lossy at the top step: the detail says what one CPU takes at
	// the CPU per event it needed there (per event written: 8 µs of CPU for
	// each of 10 logged, half of them written).
	res = append(res, mk(setupAgentHTTPS, kindAgentHTTPS, 100000, true, 4, 50))
	rows = aggregate(res)
	for _, b := range atGeneratorMax(rows, losslessRates(rows)) {
		if strings.HasPrefix(b.Name, kindAgentHTTPS) {
			if b.Verdict != "missed" || !strings.Contains(b.Detail, "up to the 100k step") ||
				!strings.Contains(b.Detail, "at the 400k step it needed 16.00 µs of CPU per event: its one CPU takes at most ~62k events/s") {
				t.Errorf("HTTPS at the generator's highest rate: %+v", b)
			}
		}
	}
}

func TestLosslessNeedsCatchUp(t *testing.T) {
	// A reader that lost nothing but was seconds behind at the end of the
	// flood only survived thanks to its buffer: not lossless.
	r := result{Logged: 10, Written: 10, Drained: true, LagS: 3}
	fillDerived(&r, time.Second)
	if r.Lossless {
		t.Error("a reader 3 s behind counted as lossless")
	}
}
