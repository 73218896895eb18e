package ship

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/nflog-agent/nflog-agent/internal/jsonstring"
	"github.com/nflog-agent/nflog-agent/internal/redact"
)

// sekoiaSink sends events to the Sekoia.io HTTP intake's /array endpoint,
// the one that takes a timestamp per event: each element is
// {"intake_key", "json": the kernel line, "timestamp"}. The event string is
// the kernel's own line, which Sekoia's Netfilter parser reads unchanged.
// As with Sekoia's own connectors, a 2xx answer means every event was
// taken and any other answer refuses the whole request: a 413 makes the
// runner split the batch, and any other 4xx but 408 and 429 is a refusal
// of the intake key.
type sekoiaSink struct {
	*httpClient
	url string
	key []byte // JSON-encoded intake key
}

// sekoiaMaxEvent is Sekoia's per-event limit (250 KiB): larger events are
// never ingested, so they are refused here and counted as too_large.
const sekoiaMaxEvent = 250 << 10

// sekoiaRegions maps region names to intake base URLs. FRA1 keeps the
// historical host; the others use the API-prefixed scheme, SGP1 included:
// Sekoia's documentation states that rule for every region but FRA1, though
// one of its tables lists SGP1 without the prefix. Setting url overrides it.
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

func newSekoiaSink(c *SinkConfig, red *redact.Secrets, st *counters) (*sekoiaSink, error) {
	key, err := readSecret("intake key", c.IntakeKeyFile, c.IntakeKeyEnv)
	if err != nil {
		return nil, err
	}
	red.Add(key)
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
	return &sekoiaSink{httpClient: hc, url: u, key: jsonstring.Append(nil, key)}, nil
}

func (s *sekoiaSink) Send(ctx context.Context, events []Event) (result, error) {
	var res result
	idx := make([]int, 0, len(events)) // request element → batch index
	n := 2
	for _, ev := range events {
		n += len(ev.Message) + len(s.key) + 64
	}
	body := append(s.newBody(n), '[')
	for i, ev := range events {
		if len(ev.Message) > sekoiaMaxEvent {
			res.Rejected = append(res.Rejected, rejection{Index: i, Reason: FailTooLarge,
				Detail: fmt.Sprintf("event of %d bytes is over Sekoia's 250 KiB limit", len(ev.Message))})
			continue
		}
		if len(idx) > 0 {
			body = append(body, ',')
		}
		body = append(body, `{"intake_key":`...)
		body = append(body, s.key...)
		body = append(body, `,"json":`...)
		body = jsonstring.Append(body, ev.Message)
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
	var serr *statusError
	if errors.As(err, &serr) && serr.Refused() && serr.Code != http.StatusRequestEntityTooLarge {
		// Every element carries the same key, and the intake documents no
		// refusal of one event but 413: a 4xx refuses the request, which
		// only the key (or the url) can be at fault for.
		serr.keyRefused = true
	}
	if err != nil {
		return result{}, err
	}
	if n, ok := sekoiaAccepted(resp); ok && n != len(idx) {
		// The intake said it took another number of events than were
		// sent. Like Sekoia's own connectors, trust the 2xx; count the
		// odd answer so that it shows.
		s.st.sendErrors.add(errBadResponse, 1)
	}
	return res, nil
}

// sekoiaAccepted returns the number of event_ids in an intake answer, and
// whether it had them.
func sekoiaAccepted(body []byte) (int, bool) {
	var doc struct {
		EventIDs []json.RawMessage `json:"event_ids"`
	}
	if json.Unmarshal(body, &doc) != nil || doc.EventIDs == nil {
		return 0, false
	}
	return len(doc.EventIDs), true
}
