package ship

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// sekoiaSink sends events to the Sekoia.io HTTP intake's /array endpoint,
// the one that takes a timestamp per event: each element is
// {"intake_key", "json": the kernel line, "timestamp"}. The event string is
// the kernel's own line, which Sekoia's Netfilter parser reads unchanged.
type sekoiaSink struct {
	*httpClient
	url string
	key []byte // JSON-encoded intake key
}

// SekoiaMaxEvent is Sekoia's per-event limit (250 KiB): larger events are
// never ingested, so they are refused here and counted as too_large.
const SekoiaMaxEvent = 250 << 10

// sekoiaRegions maps region names to intake base URLs. FRA1 keeps the
// historical host; the others use the API-prefixed scheme, SGP1 included
// (format.md's rule, which its region table contradicts: set url to
// override).
var sekoiaRegions = map[string]string{
	"fra1": "https://intake.sekoia.io",
	"fra2": "https://intake.fra2.sekoia.io/api/v1/intake-http",
	"mco1": "https://intake.mco1.sekoia.io/api/v1/intake-http",
	"uae1": "https://intake.uae1.sekoia.io/api/v1/intake-http",
	"usa1": "https://intake.usa1.sekoia.io/api/v1/intake-http",
	"sgp1": "https://intake.sgp1.sekoia.io/api/v1/intake-http",
}

// SekoiaURL returns the /array endpoint of a region, or "" when unknown.
func SekoiaURL(region string) string {
	base, ok := sekoiaRegions[strings.ToLower(region)]
	if !ok {
		return ""
	}
	return base + "/array"
}

func newSekoiaSink(c *SinkConfig, red *redactor, st *counters) (*sekoiaSink, error) {
	key, err := readSecret("intake key", c.IntakeKeyFile, c.IntakeKeyEnv)
	if err != nil {
		return nil, err
	}
	red.add(key)
	u := c.URL
	if c.Region != "" {
		if u = SekoiaURL(c.Region); u == "" {
			return nil, fmt.Errorf("unknown region %q: want fra1, fra2, mco1, uae1, usa1 or sgp1", c.Region)
		}
	}
	hc, err := newHTTPClient(c, red, st)
	if err != nil {
		return nil, err
	}
	return &sekoiaSink{httpClient: hc, url: u, key: appendJSONString(nil, []byte(key))}, nil
}

func (s *sekoiaSink) Send(ctx context.Context, events []Event) (Result, error) {
	var res Result
	idx := make([]int, 0, len(events)) // request element → batch index
	body := []byte{'['}
	for i, ev := range events {
		if len(ev.Message) > SekoiaMaxEvent {
			res.Rejected = append(res.Rejected, Rejection{Index: i, Reason: FailTooLarge,
				Detail: fmt.Sprintf("event of %d bytes is over Sekoia's 250 KiB limit", len(ev.Message))})
			continue
		}
		if len(idx) > 0 {
			body = append(body, ',')
		}
		body = append(body, `{"intake_key":`...)
		body = append(body, s.key...)
		body = append(body, `,"json":`...)
		body = appendJSONString(body, ev.Message)
		if !ev.Time.IsZero() {
			body = append(body, `,"timestamp":"`...)
			body = ev.Time.UTC().AppendFormat(body, "2006-01-02T15:04:05.000000Z07:00")
			body = append(body, '"')
		}
		body = append(body, '}')
		idx = append(idx, i)
	}
	body = append(body, ']')
	if len(idx) == 0 {
		return res, nil
	}
	resp, err := s.post(ctx, s.url, "application/json", body)
	var serr *StatusError
	if errors.As(err, &serr) && serr.Code == http.StatusRequestEntityTooLarge {
		// A batch answers 413 when every event was refused; its body then
		// says why for each event. Without per-event statuses, split.
		if sts := sekoiaStatuses(serr.raw, len(idx)); sts != nil {
			return s.apply(res, idx, sts), nil
		}
		return res, err
	}
	if err != nil {
		return Result{}, err
	}
	if sts := sekoiaStatuses(resp, len(idx)); sts != nil {
		return s.apply(res, idx, sts), nil
	}
	return res, nil
}

// sekoiaStatus is one event's ingestion status in an intake answer.
type sekoiaStatus struct {
	Status  int    `json:"status"`
	Code    int    `json:"code"`
	Error   string `json:"error"`
	Message string `json:"message"`
	Reason  string `json:"reason"`
	Index   *int   `json:"index"`
}

// sekoiaStatuses finds per-event statuses in an intake answer. Their shape
// is not documented; this reads the plausible ones: an array of n status
// objects in request order under "events", "statuses" or "results", or an
// "errors" array of objects carrying the element "index". It returns nil
// when the answer has none (then the HTTP status applies to every event).
func sekoiaStatuses(body []byte, n int) []sekoiaStatus {
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil {
		return nil
	}
	for _, key := range []string{"events", "statuses", "results"} {
		var sts []sekoiaStatus
		if raw, ok := doc[key]; ok && json.Unmarshal(raw, &sts) == nil && len(sts) == n {
			return sts
		}
	}
	var errs []sekoiaStatus
	if raw, ok := doc["errors"]; ok && json.Unmarshal(raw, &errs) == nil && len(errs) > 0 {
		sts := make([]sekoiaStatus, n)
		for i := range sts {
			sts[i].Status = http.StatusOK
		}
		for _, e := range errs {
			if e.Index == nil || *e.Index < 0 || *e.Index >= n {
				return nil // not an answer this code understands
			}
			sts[*e.Index] = e
		}
		return sts
	}
	return nil
}

// apply turns per-event statuses into the Result.
func (s *sekoiaSink) apply(res Result, idx []int, sts []sekoiaStatus) Result {
	for k, st := range sts {
		code := st.Status
		if code == 0 {
			code = st.Code
		}
		i := idx[k]
		switch {
		case code == 0 || code >= 200 && code < 300:
		case retryableStatus(code):
			res.Retry = append(res.Retry, i)
		case code == http.StatusRequestEntityTooLarge:
			res.Rejected = append(res.Rejected, Rejection{Index: i, Reason: FailTooLarge, Detail: st.detail(code)})
		default:
			res.Rejected = append(res.Rejected, Rejection{Index: i, Reason: FailItemRejected, Detail: st.detail(code)})
		}
	}
	return res
}

func (st sekoiaStatus) detail(code int) string {
	msg := st.Error
	if msg == "" {
		msg = st.Message
	}
	if msg == "" {
		msg = st.Reason
	}
	return fmt.Sprintf("status %d: %s", code, msg)
}
