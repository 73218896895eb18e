package ship

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

func TestDeadSinkDoesNotStallAnother(t *testing.T) {
	stuck := make(chan struct{})
	defer close(stuck)
	dead, deadCA := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select { // never answers while the test runs
		case <-stuck:
		case <-req.Context().Done():
		}
	}))
	rcv := newReceiver(200)
	live, liveCA := tlsServer(t, collector(t, rcv, nil))
	deadCfg := httpSinkConfig(dead.URL, deadCA)
	deadCfg.Name, deadCfg.Timeout = "dead", time.Hour
	liveCfg := httpSinkConfig(live.URL, liveCA)
	liveCfg.Name = "live"
	h := startShipper(t, nil, deadCfg, liveCfg)
	for i := range 20 { // many appends while the dead sink holds its batches
		h.append(testEvents(200)[i*10 : i*10+10])
	}
	rcv.wait(t)
	waitFor(t, "the live sink's counters", func() bool { return h.s.Stats()[1].Sent == 200 })
	st := h.s.Stats()
	if st[1].Sink != "live" || st[1].Sent != 200 || st[0].Sent != 0 || st[0].SpoolPending != 200 {
		t.Fatalf("stats: %+v", st)
	}
	if err := h.stop(10 * time.Millisecond); err == nil {
		t.Fatal("the dead sink's batches were reported delivered")
	}
}

func TestRequestsInFlightAreBounded(t *testing.T) {
	var (
		mu            sync.Mutex
		inflight, top int
	)
	two := make(chan struct{})
	twoInFlight := two // the handler sets two to nil once closed
	release := make(chan struct{})
	rcv := newReceiver(100)
	inner := collector(t, rcv, nil)
	srv, ca := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		inflight++
		top = max(top, inflight)
		if inflight == 2 && two != nil {
			close(two)
			two = nil
		}
		mu.Unlock()
		<-release
		inner.ServeHTTP(w, req)
		mu.Lock()
		inflight--
		mu.Unlock()
	}))
	c := httpSinkConfig(srv.URL, ca)
	c.Concurrency = 2
	h := startShipper(t, nil, c)
	h.append(testEvents(100)) // ten batches ready at once
	<-twoInFlight
	close(release)
	rcv.wait(t)
	h.finalStats()
	mu.Lock()
	defer mu.Unlock()
	if top != 2 {
		t.Fatalf("%d requests in flight at most, want 2", top)
	}
}

func TestShutdownSendsThePartialBatch(t *testing.T) {
	rcv := newReceiver(5)
	srv, ca := tlsServer(t, collector(t, rcv, nil))
	c := httpSinkConfig(srv.URL, ca)
	c.Batch = BatchConfig{MaxEvents: 1000, MaxAge: time.Hour} // only Shutdown sends it
	h := startShipper(t, nil, c)
	h.append(testEvents(5))
	st := h.finalStats()
	if st.Sent != 5 || rcv.distinct() != 5 || rcv.nrequests() != 1 {
		t.Fatalf("stats %+v, received %d in %d requests", st, rcv.distinct(), rcv.nrequests())
	}
}
