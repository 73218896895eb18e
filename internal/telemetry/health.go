package telemetry

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// health answers /healthz: 200 "ok" when every registered check passes,
// else 503 with one line per failing check. Checks run at request time and
// must be cheap (atomic loads, a Stats snapshot): a load balancer or a
// systemd timer may poll often.
type health struct {
	mu     sync.Mutex
	checks []healthCheck
}

type healthCheck struct {
	name  string
	check func() error
}

// add registers a check; name says what it is about ("group 100",
// "sink sekoia").
func (h *health) add(name string, check func() error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks = append(h.checks, healthCheck{name, check})
}

// problems returns "name: reason" for every failing check, in registration
// order.
func (h *health) problems() []string {
	h.mu.Lock()
	checks := append([]healthCheck(nil), h.checks...)
	h.mu.Unlock()
	var out []string
	for _, c := range checks {
		if err := c.check(); err != nil {
			out = append(out, c.name+": "+err.Error())
		}
	}
	return out
}

func (h *health) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if p := h.problems(); len(p) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, strings.Join(p, "\n"))
		return
	}
	fmt.Fprintln(w, "ok")
}

// binder is what groupCheck needs of a collector.Group.
type binder interface{ Bound() bool }

// groupCheck fails while the group is not being read: its socket broke and
// is being re-opened, or the group was closed.
func groupCheck(g binder) func() error {
	return func() error {
		if !g.Bound() {
			return errors.New("not bound: its socket is being re-opened, or it was closed")
		}
		return nil
	}
}

// drainState fails /healthz while the agent shuts down, so that a
// supervisor polling it sees the agent going away before the port closes.
type drainState struct{ draining atomic.Bool }

func (d *drainState) start() { d.draining.Store(true) }

func (d *drainState) check() error {
	if d.draining.Load() {
		return errors.New("shutting down, draining what was read")
	}
	return nil
}

// failingFor is the check for a component that can fail for a while
// without harm, such as a sink whose events wait in the spool: it fails only
// once the component has been failing for longer than threshold. since
// reports when the current run of failures began, and false when the
// component is healthy.
func failingFor(threshold time.Duration, now func() time.Time, since func() (time.Time, bool)) func() error {
	return func() error {
		t, failing := since()
		if !failing {
			return nil
		}
		if d := now().Sub(t); d > threshold {
			return fmt.Errorf("failing for %s (threshold %s)", d.Round(time.Second), threshold)
		}
		return nil
	}
}
