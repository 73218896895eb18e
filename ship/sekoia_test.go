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

// intakeServer answers like the Sekoia intake's /array endpoint. status(n,
// msg) is the per-event status in the n-th request; when every event of a
// request is refused the answer is 413, as Sekoia documents for batches.
// Events are recorded by their kernel line.
func intakeServer(t *testing.T, rcv *receiver, key string, status func(n int, msg string) int) http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		k := int(n.Add(1) - 1)
		body := readBody(t, req)
		var els []sekoiaElement
		if err := json.Unmarshal(body, &els); err != nil {
			t.Errorf("body is not a JSON array: %v", err)
		}
		var ok []string
		var ids, statuses []string
		refused := 0
		for i, el := range els {
			if el.IntakeKey != key {
				t.Errorf("element %d: intake key %q", i, el.IntakeKey)
			}
			st := 200
			if status != nil {
				st = status(k, el.JSON)
			}
			if st == 200 {
				ok = append(ok, el.JSON)
				ids = append(ids, fmt.Sprintf("%q", fmt.Sprint("uuid-", i)))
				statuses = append(statuses, `{"status":200}`)
			} else {
				refused++
				ids = append(ids, "null")
				statuses = append(statuses, fmt.Sprintf(`{"status":%d,"error":"refused: %s"}`, st, http.StatusText(st)))
			}
		}
		rcv.record(req, body, ok)
		if refused == len(els) && refused > 0 {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
		}
		fmt.Fprintf(w, `{"event_ids":[%s],"events":[%s]}`, strings.Join(ids, ","), strings.Join(statuses, ","))
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

func TestSekoiaPerEventStatuses(t *testing.T) {
	evs := testEvents(6)
	msg := func(i int) string { return string(evs[i].Message) }
	rcv := newReceiver(5)
	srv, ca := tlsServer(t, intakeServer(t, rcv, "k-123456", func(n int, m string) int {
		switch {
		case m == msg(1):
			return 400 // refused for good
		case m == msg(2) && n == 0:
			return 503 // refused for now
		}
		return 200
	}))
	h := startShipper(t, nil, sekoiaConfig(t, srv.URL, ca, "k-123456"))
	h.append(evs)
	rcv.wait(t)
	st := h.finalStats()
	if st.Sent != 5 || st.Failed[FailItemRejected] != 1 || st.Retried != 1 {
		t.Fatalf("stats: %+v", st)
	}
	var retry []sekoiaElement
	json.Unmarshal(rcv.bodies[1], &retry)
	if len(retry) != 1 || retry[0].JSON != msg(2) {
		t.Fatalf("retry request: %+v", retry)
	}
	if strings.Contains(h.logs.String(), "k-123456") {
		t.Fatal("intake key in the log")
	}
}

func TestSekoiaTooLarge(t *testing.T) {
	evs := testEvents(4)
	big := strings.Repeat("A", SekoiaMaxEvent+1)
	evs[1].Message = []byte(big) // refused before sending
	evs[2].Message = []byte("refused by the intake")
	rcv := newReceiver(2)
	srv, ca := tlsServer(t, intakeServer(t, rcv, "k-123456", func(_ int, m string) int {
		if m == big {
			t.Error("an event over 250 KiB was sent")
		}
		if m == "refused by the intake" {
			return 413
		}
		return 200
	}))
	c := sekoiaConfig(t, srv.URL, ca, "k-123456")
	c.Batch.MaxEvents = 1 // the intake answers 413 for a batch where all are refused
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
