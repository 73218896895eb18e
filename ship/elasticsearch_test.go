package ship

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// bulkServer answers _bulk like Elasticsearch: item(n, id) gives the status
// of each item of the n-th request; 201 items are recorded as indexed.
func bulkServer(t *testing.T, rcv *receiver, item func(n int, id string) int) http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		k := int(n.Add(1) - 1)
		body := readBody(t, req)
		var created []string
		var items []string
		anyErr := false
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var action map[string]struct {
				ID    string `json:"_id"`
				Index string `json:"_index"`
			}
			if err := json.Unmarshal(sc.Bytes(), &action); err != nil || len(action) != 1 {
				t.Errorf("action line %q: %v", sc.Bytes(), err)
			}
			meta, ok := action["create"]
			if !ok {
				t.Errorf("action %q is not create", sc.Bytes())
			}
			if !sc.Scan() {
				t.Error("action without document")
			}
			if !strings.Contains(sc.Text(), `"id":"`+meta.ID+`"`) {
				t.Errorf("_id %s is not the document's event.id: %s", meta.ID, sc.Text())
			}
			st := 201
			if item != nil {
				st = item(k, meta.ID)
			}
			switch {
			case st == 201:
				created = append(created, meta.ID)
				items = append(items, `{"create":{"status":201}}`)
			case st == 409:
				anyErr = true
				items = append(items, `{"create":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"document already exists"}}}`)
			default:
				anyErr = true
				items = append(items, fmt.Sprintf(`{"create":{"status":%d,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [source.port]"}}}`, st))
			}
		}
		rcv.record(req, body, created)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"errors":%v,"items":[%s]}`, anyErr, strings.Join(items, ","))
	})
}

func elasticConfig(url, ca string) SinkConfig {
	return SinkConfig{Type: TypeElasticsearch, URL: url, TLS: TLSConfig{CAFile: ca}, Retry: fastRetry, Batch: smallBatch}
}

func TestElasticsearchBulkCreate(t *testing.T) {
	rcv := newReceiver(25)
	srv, ca := tlsServer(t, bulkServer(t, rcv, nil))
	t.Setenv("TEST_ES_KEY", "a2V5OnNlY3JldA==")
	c := elasticConfig(srv.URL+"/", ca)
	c.APIKeyEnv = "TEST_ES_KEY"
	h := startShipper(t, nil, c)
	h.append(testEvents(25))
	rcv.wait(t)
	st := h.finalStats()
	if st.Sent != 25 || st.Duplicates != 0 || len(st.Failed) != 0 {
		t.Fatalf("stats: %+v", st)
	}
	req := rcv.requests[0]
	if req.URL.Path != "/"+dataStreamDefault+"/_bulk" || !strings.HasPrefix(req.URL.RawQuery, "filter_path=") {
		t.Fatalf("URL %s", req.URL)
	}
	if got := req.Header.Get("Authorization"); got != "ApiKey a2V5OnNlY3JldA==" {
		t.Fatalf("Authorization %q", got)
	}
}

func TestElasticsearchPartialFailures(t *testing.T) {
	// ev-0000 created; ev-0001 already there (409); ev-0002 429 and
	// ev-0003 503 the first time only; ev-0004 a mapping error.
	rcv := newReceiver(3)
	srv, ca := tlsServer(t, bulkServer(t, rcv, func(n int, id string) int {
		switch {
		case id == "ev-0001":
			return 409
		case id == "ev-0002" && n == 0:
			return 429
		case id == "ev-0003" && n == 0:
			return 503
		case id == "ev-0004":
			return 400
		}
		return 201
	}))
	c := elasticConfig(srv.URL, ca)
	c.Username, c.PasswordEnv = "elastic", "TEST_ES_PASSWORD"
	t.Setenv("TEST_ES_PASSWORD", "hunter22")
	h := startShipper(t, nil, c)
	h.append(testEvents(5))
	rcv.wait(t)
	st := h.finalStats()
	if st.Sent != 4 || st.Duplicates != 1 || st.Failed[FailItemRejected] != 1 || st.Retried != 1 || st.SpoolPending != 0 {
		t.Fatalf("stats: %+v", st)
	}
	// The retry carried the two retryable items alone.
	second := string(rcv.bodies[1])
	if strings.Count(second, `"create"`) != 2 || !strings.Contains(second, "ev-0002") || !strings.Contains(second, "ev-0003") {
		t.Fatalf("retry body:\n%s", second)
	}
	if user, pw, ok := rcv.requests[0].BasicAuth(); !ok || user != "elastic" || pw != "hunter22" {
		t.Fatalf("basic auth %q %q %v", user, pw, ok)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "mapper_parsing_exception") || strings.Contains(logs, "hunter22") {
		t.Fatalf("log:\n%s", logs)
	}
}

func TestElasticsearchUnreadableAnswerIsRetried(t *testing.T) {
	rcv := newReceiver(4)
	var n atomic.Int64
	inner := bulkServer(t, rcv, nil)
	srv, ca := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if n.Add(1) == 1 {
			readBody(t, req)
			w.Write([]byte(`{"errors":true,"items":[`)) // cut short
			return
		}
		inner.ServeHTTP(w, req)
	}))
	h := startShipper(t, nil, elasticConfig(srv.URL, ca))
	h.append(testEvents(4))
	rcv.wait(t)
	if st := h.finalStats(); st.Sent != 4 || st.SendErrors[errBadResponse] != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []SinkConfig{
		{Type: "kafka"},
		{Type: TypeFile},
		{Type: TypeHTTP},
		{Type: TypeHTTP, URL: "https://x", Format: "xml"},
		{Type: TypeStdout, URL: "https://x"},
		{Type: TypeSekoia, IntakeKeyEnv: "K"},
		{Type: TypeSekoia, Region: "fra1"},
		{Type: TypeSekoia, Region: "fra1", URL: "https://x", IntakeKeyEnv: "K"},
		{Type: TypeElasticsearch, URL: "https://x", Region: "fra1"},
		{Type: TypeHTTP, URL: "https://x", Compression: "zstd"},
	} {
		if _, err := c.withDefaults(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if _, err := New(spool.NewMemory(0, 0, spool.Drop), []SinkConfig{{Type: TypeStdout}, {Type: TypeStdout}}, Options{}); err == nil ||
		!strings.Contains(err.Error(), "two sinks") {
		t.Errorf("duplicate names: %v", err)
	}
}

// A 401 (a revoked or rotated key) keeps every event in the spool: the
// sink is blocked and says why once, tries again every max_backoff, and
// delivers everything once the key is accepted again.
func TestElasticsearchRevokedKeyKeepsEvents(t *testing.T) {
	var (
		accept atomic.Bool
		mu     sync.Mutex
		times  []time.Time
	)
	rcv := newReceiver(25)
	inner := bulkServer(t, rcv, nil)
	srv, ca := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if accept.Load() {
			inner.ServeHTTP(w, req)
			return
		}
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		readBody(t, req)
		w.Header().Set("WWW-Authenticate", "ApiKey")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":{"type":"security_exception","reason":"unable to authenticate with provided credentials"}}`))
	}))
	t.Setenv("TEST_ES_KEY", "cmV2b2tlZDprZXk=")
	c := elasticConfig(srv.URL, ca)
	c.APIKeyEnv = "TEST_ES_KEY"
	c.Retry.MaxBackoff = time.Second
	h := startShipper(t, nil, c)
	h.append(testEvents(25))
	refusals := func() []time.Time {
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Time(nil), times...)
	}
	waitFor(t, "three refusals", func() bool { return len(refusals()) >= 3 })
	at := refusals()
	for i := 1; i < 3; i++ {
		if gap := at[i].Sub(at[i-1]); gap < time.Second {
			t.Errorf("refused again after %v, want max_backoff (1s) at least", gap)
		}
	}
	h.blockedThenDelivered(rcv, &accept, 25, BlockAuth, "cmV2b2tlZDprZXk=", "api_key_file", "security_exception")
}
