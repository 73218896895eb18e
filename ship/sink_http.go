package ship

import (
	"context"

	"github.com/nflog-agent/nflog-agent/internal/redact"
)

// httpSink POSTs the events' ECS documents to any HTTP collector, as NDJSON
// or as a JSON array. Any 2xx answer means every event was delivered.
type httpSink struct {
	*httpClient
	url   string
	array bool
}

func newHTTPSink(c *SinkConfig, red *redact.Secrets, st *counters) (*httpSink, error) {
	for _, v := range c.Headers {
		red.Add(v) // headers carry tokens more often than not
	}
	hc, err := newHTTPClient(c, red, st)
	if err != nil {
		return nil, err
	}
	for k, v := range c.Headers {
		hc.headers.Set(k, v)
	}
	return &httpSink{httpClient: hc, url: c.URL, array: c.Format == "json_array"}, nil
}

func (s *httpSink) Send(ctx context.Context, events []Event) (result, error) {
	n := len(events) + 2
	for _, ev := range events {
		n += len(ev.JSON)
	}
	body := s.newBody(n)
	ct := "application/x-ndjson"
	if s.array {
		ct = "application/json"
		body = append(body, '[')
		for i, ev := range events {
			if i > 0 {
				body = append(body, ',')
			}
			body = append(body, ev.JSON...)
		}
		body = append(body, ']')
	} else {
		for _, ev := range events {
			body = append(body, ev.JSON...)
			body = append(body, '\n')
		}
	}
	_, err := s.post(ctx, s.url, ct, body)
	return result{}, err
}
