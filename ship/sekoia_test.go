package ship

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// sekoiaElement is one element of an /array request.
type sekoiaElement struct {
	IntakeKey string `json:"intake_key"`
	JSON      string `json:"json"`
	Timestamp string `json:"timestamp"`
}

// intakeServer answers like the Sekoia intake's /array endpoint, all or
// nothing: status(n, msgs) is the status of the n-th request, given the
// kernel lines it carries (nil: 200). A 2xx answer lists one event_id per
// event, and its events are recorded by their kernel line; any other
// answer carries an error message.
func intakeServer(t *testing.T, rcv *receiver, key string, status func(n int, msgs []string) int) http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		k := int(n.Add(1) - 1)
		body := readBody(t, req)
		var els []sekoiaElement
		if err := json.Unmarshal(body, &els); err != nil {
			t.Errorf("body is not a JSON array: %v", err)
		}
		msgs := make([]string, len(els))
		ids := make([]string, len(els))
		for i, el := range els {
			if el.IntakeKey != key {
				t.Errorf("element %d: intake key %q", i, el.IntakeKey)
			}
			msgs[i], ids[i] = el.JSON, fmt.Sprintf(`"uuid-%d-%d"`, k, i)
		}
		code := http.StatusOK
		if status != nil {
			code = status(k, msgs)
		}
		if code >= 300 {
			w.WriteHeader(code)
			fmt.Fprintf(w, `{"message":%q}`, http.StatusText(code))
			return
		}
		rcv.record(req, body, msgs)
		fmt.Fprintf(w, `{"event_ids":[%s]}`, strings.Join(ids, ","))
	})
}

func sekoiaConfig(t *testing.T, url, ca, key string) SinkConfig {
	f := filepath.Join(t.TempDir(), "intake.key")
	os.WriteFile(f, []byte(key+"\n"), 0o600)
	return SinkConfig{Type: TypeSekoia, URL: url, IntakeKeyFile: f, TLS: TLSConfig{CAFile: ca},
		Retry: fastRetry, Batch: smallBatch}
}

func TestSekoiaSendsKernelLinesWithTimestamps(t *testing.T) {
	evs := testEvents(12)
	evs[3].Time = time.Time{} // no timestamp: Sekoia uses the reception date
	rcv := newReceiver(12)
	srv, ca := tlsServer(t, intakeServer(t, rcv, "intake-key-1234", nil))
	h := startShipper(t, nil, sekoiaConfig(t, srv.URL+"/array", ca, "intake-key-1234"))
	h.append(evs)
	rcv.wait(t)
	st := h.finalStats()
	if st.Sent != 12 || len(st.Failed) != 0 {
		t.Fatalf("stats: %+v", st)
	}
	if rcv.count(string(evs[0].Message)) != 1 {
		t.Fatal("the event string is not the kernel line")
	}
	els := map[string]sekoiaElement{} // by kernel line
	for _, b := range rcv.bodies {    // batches may arrive in any order
		var part []sekoiaElement
		json.Unmarshal(b, &part)
		for _, el := range part {
			els[el.JSON] = el
		}
	}
	if len(els) != 12 {
		t.Fatalf("%d distinct elements", len(els))
	}
	if ts1, ts3 := els[string(evs[1].Message)].Timestamp, els[string(evs[3].Message)].Timestamp; ts1 != "2026-11-30T01:02:03.000001Z" || ts3 != "" {
		t.Fatalf("timestamps: %q, %q", ts1, ts3)
	}
	if rcv.requests[0].URL.Path != "/array" || rcv.requests[0].Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("request %s %v", rcv.requests[0].URL, rcv.requests[0].Header)
	}
}

func TestSekoiaTooLarge(t *testing.T) {
	evs := testEvents(4)
	big := strings.Repeat("A", sekoiaMaxEvent+1)
	evs[1].Message = []byte(big) // refused before sending
	evs[2].Message = []byte("refused by the intake")
	rcv := newReceiver(2)
	srv, ca := tlsServer(t, intakeServer(t, rcv, "k-123456", func(_ int, msgs []string) int {
		for _, m := range msgs {
			if m == big {
				t.Error("an event over 250 KiB was sent")
			}
			if m == "refused by the intake" {
				return 413
			}
		}
		return 200
	}))
	c := sekoiaConfig(t, srv.URL, ca, "k-123456")
	h := startShipper(t, nil, c)
	h.append(evs)
	rcv.wait(t)
	waitFor(t, "both refusals", func() bool { return h.s.Stats()[0].Failed[FailTooLarge] == 2 })
	if st := h.finalStats(); st.Sent != 2 || st.SpoolPending != 0 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestSekoiaRegions(t *testing.T) {
	for region, want := range map[string]string{
		"fra1": "https://intake.sekoia.io/array",
		"FRA2": "https://intake.fra2.sekoia.io/api/v1/intake-http/array",
		"usa1": "https://intake.usa1.sekoia.io/api/v1/intake-http/array",
		"eur1": "",
	} {
		if got := SekoiaURL(region); got != want {
			t.Errorf("%s: %q, want %q", region, got, want)
		}
	}
	t.Setenv("TEST_INTAKE_KEY", "")
	_, err := New(nil, []SinkConfig{{Type: TypeSekoia, Region: "fra1", IntakeKeyEnv: "TEST_INTAKE_KEY"}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "TEST_INTAKE_KEY") {
		t.Fatalf("missing key: %v", err)
	}
}

// A 400 from the intake refuses the key, not the events: they stay queued,
// the sink says it is blocked and why, once, and everything is delivered
// once the intake takes the key again.
func TestSekoiaRefusedKeyKeepsEvents(t *testing.T) {
	var accept atomic.Bool
	var refusals atomic.Int64
	rcv := newReceiver(12)
	srv, ca := tlsServer(t, intakeServer(t, rcv, "k-rotated-1", func(int, []string) int {
		if accept.Load() {
			return 200
		}
		refusals.Add(1)
		return http.StatusBadRequest
	}))
	c := sekoiaConfig(t, srv.URL, ca, "k-rotated-1")
	h := startShipper(t, nil, c)
	h.append(testEvents(12))
	waitFor(t, "three refusals", func() bool { return refusals.Load() >= 3 })
	h.blockedThenDelivered(rcv, &accept, 12, BlockAuth, "k-rotated-1", "intake_key_file", "Bad Request")
	if !strings.Contains(h.logs.String(), "sink available again") {
		t.Fatalf("recovery not logged:\n%s", h.logs.String())
	}
}

// A 2xx answer takes every event, whatever it lists; an answer whose
// event_ids do not match is counted as odd.
func TestSekoiaAnswerIsAllOrNothing(t *testing.T) {
	rcv := newReceiver(3)
	srv, ca := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body := readBody(t, req)
		var els []sekoiaElement
		json.Unmarshal(body, &els)
		msgs := make([]string, len(els))
		for i, el := range els {
			msgs[i] = el.JSON
		}
		rcv.record(req, body, msgs)
		// A per-event status shape the sink used to guess at: ignored.
		w.Write([]byte(`{"event_ids":["a"],"events":[{"status":400},{"status":503},{"status":200}]}`))
	}))
	c := sekoiaConfig(t, srv.URL, ca, "k-123456")
	c.Batch = BatchConfig{MaxEvents: 3, MaxAge: time.Hour}
	h := startShipper(t, nil, c)
	h.append(testEvents(3))
	rcv.wait(t)
	st := h.finalStats()
	if st.Sent != 3 || len(st.Failed) != 0 || st.Retried != 0 || st.SendErrors[errBadResponse] != 1 || rcv.nrequests() != 1 {
		t.Fatalf("stats: %+v", st)
	}
}
