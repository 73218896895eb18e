package ship

import (
	"bufio"
	"bytes"
	"net/http"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/internal/testenv"
)

// buildKillAgent builds ship/internal/killagent into a temporary directory.
func buildKillAgent(t *testing.T) string {
	t.Helper()
	goBin := testenv.NeedCommand(t, "go", "golang-go, or Go from go.dev")
	bin := filepath.Join(t.TempDir(), "killagent")
	out, err := exec.Command(goBin, "build", "-buildvcs=false", "-o", bin, "./internal/killagent").CombinedOutput()
	if err != nil {
		t.Fatalf("build killagent: %v\n%s", err, out)
	}
	return bin
}

// crashReceiver records every copy of every event it is sent, by event.id,
// with the document bytes, and reports when a number of distinct events
// arrived.
type crashReceiver struct {
	t      *testing.T
	mu     sync.Mutex
	copies map[string][][]byte
	marks  map[int]chan struct{}
}

func (c *crashReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body := readBody(c.t, req)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, line := range bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n")) {
		id := ndjsonIDs(c.t, line)[0]
		c.copies[id] = append(c.copies[id], line)
	}
	for n, ch := range c.marks {
		if len(c.copies) >= n {
			close(ch)
			delete(c.marks, n)
		}
	}
}

// at returns a channel closed once n distinct events arrived.
func (c *crashReceiver) at(n int) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan struct{})
	if len(c.copies) >= n {
		close(ch)
	} else {
		c.marks[n] = ch
	}
	return ch
}

// startAgent starts the agent and waits until it has appended its events.
func startAgent(t *testing.T, bin string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	logs := &logBuffer{}
	cmd.Stderr = logs
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent %v log:\n%s", args, logs)
		}
	})
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "appended\n" {
		t.Fatalf("agent: %q, %v", line, err)
	}
	return cmd
}

func waitOrFail(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(2 * time.Minute):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// TestSIGKILLWhileShipping kills the agent with SIGKILL while it is
// shipping, starts it again on the same spool, and checks the delivery
// guarantee: every event arrives at least once, and what arrives twice is at
// most one batch (the one in flight), with the same event.id and bytes.
func TestSIGKILLWhileShipping(t *testing.T) {
	if testing.Short() {
		testenv.Skipf(t, "-short: builds and runs a process")
	}
	const total, batch = 3000, 50
	bin := buildKillAgent(t)
	rcv := &crashReceiver{t: t, copies: map[string][][]byte{}, marks: map[int]chan struct{}{}}
	srv, ca := tlsServer(t, rcv)
	dir := t.TempDir()
	args := []string{"-spool", dir, "-url", srv.URL, "-ca", ca, "-batch", strconv.Itoa(batch)}

	first := startAgent(t, bin, append(args, "-from", "0", "-to", strconv.Itoa(total))...)
	waitOrFail(t, rcv.at(total/3), "a third of the events")
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.Wait()

	second := startAgent(t, bin, args...) // appends nothing, ships the rest
	waitOrFail(t, rcv.at(total), "every event after the restart")
	second.Process.Signal(syscall.SIGTERM)
	if err := second.Wait(); err != nil {
		t.Fatalf("agent after SIGTERM: %v", err)
	}

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	var dups []string
	for i := range total {
		id := "ev-" + leftPad(i)
		copies := rcv.copies[id]
		if len(copies) == 0 {
			t.Fatalf("%s never arrived", id)
		}
		for _, c := range copies[1:] {
			if !bytes.Equal(c, copies[0]) {
				t.Fatalf("%s arrived with different documents:\n%s\n%s", id, copies[0], c)
			}
		}
		if len(copies) > 2 {
			t.Fatalf("%s arrived %d times", id, len(copies))
		}
		if len(copies) == 2 {
			dups = append(dups, id)
		}
	}
	if len(rcv.copies) != total {
		t.Fatalf("%d distinct events, want %d", len(rcv.copies), total)
	}
	sort.Strings(dups)
	if len(dups) > batch {
		t.Fatalf("%d duplicates, more than one batch of %d: %v", len(dups), batch, dups)
	}
	if len(dups) > 0 {
		lo, _ := strconv.Atoi(dups[0][3:])
		hi, _ := strconv.Atoi(dups[len(dups)-1][3:])
		if hi-lo+1 != len(dups) {
			t.Fatalf("duplicates are not one batch: %v", dups)
		}
	}
	t.Logf("killed after >= %d events; %d duplicates (at most one batch of %d)", total/3, len(dups), batch)
}

func leftPad(i int) string {
	s := strconv.Itoa(i)
	for len(s) < 6 {
		s = "0" + s
	}
	return s
}
