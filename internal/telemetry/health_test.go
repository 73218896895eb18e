package telemetry

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func healthz(t *testing.T, h *health) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, string(body)
}

func TestHealth(t *testing.T) {
	h := &health{}
	if code, body := healthz(t, h); code != http.StatusOK || body != "ok\n" {
		t.Errorf("no checks: %d %q", code, body)
	}
	g100, g101 := &fakeGroup{bound: true}, &fakeGroup{bound: true}
	var drain drainState
	h.add("agent", drain.check)
	h.add("group 100", groupCheck(g100))
	h.add("group 101", groupCheck(g101))
	if code, body := healthz(t, h); code != http.StatusOK || body != "ok\n" {
		t.Errorf("all bound: %d %q", code, body)
	}
	g101.bound = false
	if code, body := healthz(t, h); code != http.StatusServiceUnavailable || body != "group 101: "+notBound+"\n" {
		t.Errorf("group 101 stopped: %d %q", code, body)
	}
	drain.start()
	g100.bound = false
	want := "agent: shutting down, draining what was read\ngroup 100: " + notBound + "\ngroup 101: " + notBound + "\n"
	if code, body := healthz(t, h); code != http.StatusServiceUnavailable || body != want {
		t.Errorf("draining: %d %q", code, body)
	}
}

const notBound = "not bound: its socket is being re-opened, or it was closed"

type fakeGroup struct{ bound bool }

func (g *fakeGroup) Bound() bool { return g.bound }

// A component that is failing turns /healthz red only once it has been
// failing for longer than the threshold.
func TestFailingFor(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	var since time.Time
	failing := false
	check := failingFor(5*time.Minute, clock.now, func() (time.Time, bool) { return since, failing })
	if err := check(); err != nil {
		t.Errorf("healthy: %v", err)
	}
	failing, since = true, clock.t
	clock.advance(5 * time.Minute)
	if err := check(); err != nil {
		t.Errorf("failing for exactly the threshold: %v", err)
	}
	clock.advance(time.Second)
	if err := check(); err == nil || err.Error() != "failing for 5m1s (threshold 5m0s)" {
		t.Errorf("failing past the threshold: %v", err)
	}
	failing = false
	if err := check(); err != nil {
		t.Errorf("recovered: %v", err)
	}

	h := &health{}
	h.add("sink siem", func() error { return errors.New("failing for 6m0s (threshold 5m0s)") })
	if code, body := healthz(t, h); code != http.StatusServiceUnavailable || body != "sink siem: failing for 6m0s (threshold 5m0s)\n" {
		t.Errorf("sink: %d %q", code, body)
	}
}
