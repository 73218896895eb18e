package ship

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/nflog-agent/nflog-agent/internal/jsonstring"
	"github.com/nflog-agent/nflog-agent/internal/redact"
	"github.com/nflog-agent/nflog-agent/internal/setting"
)

// elasticSink indexes events with the _bulk API, one `create` per event into
// a data stream, with _id = event.id so that a batch sent twice (after a
// crash or a lost answer) does not duplicate documents: the second create
// answers 409, which counts as delivered.
type elasticSink struct {
	*httpClient
	url string
}

// bulkFilter trims the _bulk answer to what is read: a large batch's full
// answer repeats index names and versions for every item.
const bulkFilter = "?filter_path=errors,items.*.status,items.*.error.type,items.*.error.reason"

// ElasticAuthorization returns the Authorization header an elasticsearch
// sink sends ("" without credentials), reading its secret, and the strings
// in it to keep out of any output. Errors never hold a secret.
func (c SinkConfig) ElasticAuthorization() (auth string, secrets []string, err error) {
	switch {
	case c.APIKeyFile != "" || c.APIKeyEnv != "":
		key, err := readSecret("api key", c.APIKeyFile, c.APIKeyEnv)
		if err != nil {
			return "", nil, err
		}
		return "ApiKey " + key, []string{key}, nil
	case c.Username != "":
		if (c.PasswordFile == "") == (c.PasswordEnv == "") {
			return "", nil, &setting.Error{Key: "username", Err: errors.New("set exactly one of password_file and password_env")}
		}
		pw, err := readSecret("password", c.PasswordFile, c.PasswordEnv)
		if err != nil {
			return "", nil, err
		}
		enc := base64.StdEncoding.EncodeToString([]byte(c.Username + ":" + pw))
		return "Basic " + enc, []string{pw, enc}, nil
	}
	return "", nil, nil
}

func newElasticSink(c *SinkConfig, red *redact.Secrets, st *counters) (*elasticSink, error) {
	auth, secrets, err := c.ElasticAuthorization()
	if err != nil {
		return nil, err
	}
	red.Add(secrets...)
	hc, err := newHTTPClient(c, red, st)
	if err != nil {
		return nil, err
	}
	if auth != "" {
		hc.headers.Set("Authorization", auth)
	}
	u := strings.TrimRight(c.URL, "/") + "/" + c.DataStream + "/_bulk" + bulkFilter
	return &elasticSink{httpClient: hc, url: u}, nil
}

// bulkResponse is the part of a _bulk answer that is read.
type bulkResponse struct {
	Errors bool                  `json:"errors"`
	Items  []map[string]bulkItem `json:"items"`
}

type bulkItem struct {
	Status int `json:"status"`
	Error  *struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

func (s *elasticSink) Send(ctx context.Context, events []Event) (result, error) {
	n := 0
	for _, ev := range events {
		n += len(ev.JSON) + len(ev.ID) + 24
	}
	body := s.newBody(n)
	for _, ev := range events {
		body = append(body, `{"create":{"_id":`...)
		body = jsonstring.Append(body, ev.ID)
		body = append(body, "}}\n"...)
		body = append(body, ev.JSON...)
		body = append(body, '\n')
	}
	resp, err := s.post(ctx, s.url, "application/x-ndjson", body)
	if err != nil {
		return result{}, err
	}
	var br bulkResponse
	if err := json.Unmarshal(resp, &br); err != nil {
		s.st.sendErrors.add(errBadResponse, 1)
		return result{}, fmt.Errorf("_bulk answer: %w", err)
	}
	if !br.Errors {
		return result{}, nil
	}
	if len(br.Items) != len(events) {
		// Which item is which is unknown: send them all again; those
		// already created answer 409.
		s.st.sendErrors.add(errBadResponse, 1)
		return result{}, fmt.Errorf("_bulk answer has %d items for %d events", len(br.Items), len(events))
	}
	var res result
	for i, m := range br.Items {
		var it bulkItem
		for _, v := range m { // one key: the action
			it = v
		}
		switch {
		case it.Status >= 200 && it.Status < 300:
		case it.Status == http.StatusConflict:
			res.Duplicates++
		case retryableStatus(it.Status):
			res.Retry = append(res.Retry, i)
		default:
			detail := fmt.Sprintf("status %d", it.Status)
			if it.Error != nil {
				detail = fmt.Sprintf("status %d %s: %s", it.Status, it.Error.Type, it.Error.Reason)
			}
			res.Rejected = append(res.Rejected, rejection{Index: i, Reason: FailItemRejected, Detail: detail})
		}
	}
	return res, nil
}
