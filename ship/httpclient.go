package ship

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/klauspost/compress/gzip"
)

// Response bodies are read up to these sizes: a _bulk answer for a large
// batch fits, a misbehaving server cannot make the agent buffer gigabytes.
const (
	maxResponseBody = 32 << 20
	maxErrorBody    = 64 << 10
)

// StatusError is an HTTP answer that was not a success. Body is the start
// of the response body, secrets removed.
type StatusError struct {
	Code int
	Body string
	raw  []byte // the body as received (bounded), for sinks that parse it
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.Code, http.StatusText(e.Code), e.Body)
}

// Is makes a 413 match ErrTooLarge.
func (e *StatusError) Is(target error) bool {
	return target == ErrTooLarge && e.Code == http.StatusRequestEntityTooLarge
}

// Permanent says whether resending the same request is pointless.
func (e *StatusError) Permanent() bool { return !retryableStatus(e.Code) }

// httpClient posts request bodies for one sink: gzip, static headers,
// retries through go-retryablehttp, and counters for every attempt.
type httpClient struct {
	rc      *retryablehttp.Client
	tr      *http.Transport
	gzip    bool
	headers http.Header
	red     *redactor
	st      *counters
}

func newHTTPClient(c *SinkConfig, red *redactor, st *counters) (*httpClient, error) {
	tlsCfg, err := c.TLS.build()
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		TLSClientConfig:       tlsCfg,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   c.Concurrency + 1,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	h := &httpClient{tr: tr, gzip: c.Compression == "gzip", headers: http.Header{}, red: red, st: st}
	rc := retryablehttp.NewClient()
	rc.HTTPClient = &http.Client{Transport: timedTransport{tr, st}, Timeout: c.Timeout}
	rc.Logger = nil // the runner logs, once per state change, not per attempt
	rc.RetryMax = c.Retry.Attempts - 1
	rc.RetryWaitMin, rc.RetryWaitMax = c.Retry.InitialBackoff, c.Retry.MaxBackoff
	maxRA := c.Retry.MaxRetryAfter
	rc.Backoff = func(min, max time.Duration, n int, resp *http.Response) time.Duration {
		return backoff(min, max, maxRA, n, resp)
	}
	rc.CheckRetry = h.checkRetry
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	rc.RequestLogHook = func(_ retryablehttp.Logger, _ *http.Request, attempt int) {
		if attempt > 0 {
			st.retried.Add(1)
		}
	}
	h.rc = rc
	return h, nil
}

// checkRetry is the retry policy: network errors, 408, 429 and 5xx are
// retried; certificate errors are not (the runner keeps the batch and tries
// again much later: they need the operator); everything is counted.
func (h *httpClient) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		kind := errKind(err)
		h.st.sendErrors.add(kind, 1)
		h.st.setLastErr(h.red.redact(err.Error()))
		if kind == errTLS {
			return false, nil
		}
		h.retrying(err)
		return true, nil
	}
	if resp.StatusCode < 300 {
		return false, nil
	}
	h.st.sendErrors.add(statusKind(resp.StatusCode), 1)
	msg := fmt.Sprintf("HTTP %d from %s", resp.StatusCode, h.red.redact(resp.Request.URL.Redacted()))
	h.st.setLastErr(msg)
	if !retryableStatus(resp.StatusCode) {
		return false, nil
	}
	h.retrying(errors.New(msg))
	return true, nil
}

// retrying tells the runner of an attempt that failed and will be retried.
func (h *httpClient) retrying(err error) {
	if h.st.retrying != nil {
		h.st.retrying(err)
	}
}

// post sends body to url. It returns the response body of a 2xx answer, or
// a *StatusError for any other status after the retries, or a transport
// error (secrets removed).
func (h *httpClient) post(ctx context.Context, url, contentType string, body []byte) ([]byte, error) {
	if h.gzip {
		body = gzipBody(body)
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %s", h.red.redact(err.Error()))
	}
	for k, v := range h.headers {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", contentType)
	if h.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := h.rc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &redactedError{msg: h.red.redact(err.Error()), err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
		if err != nil {
			return nil, fmt.Errorf("read response: %s", h.red.redact(err.Error()))
		}
		return b, nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return nil, &StatusError{Code: resp.StatusCode, Body: h.red.bodySnippet(b), raw: b}
}

var gzipPool = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return w
}}

func gzipBody(b []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(b)/4 + 64)
	w := gzipPool.Get().(*gzip.Writer)
	w.Reset(&buf)
	w.Write(b) // writes to a bytes.Buffer do not fail
	w.Close()
	gzipPool.Put(w)
	return buf.Bytes()
}

// timedTransport counts attempts and their durations.
type timedTransport struct {
	rt http.RoundTripper
	st *counters
}

func (t timedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.rt.RoundTrip(req)
	t.st.observe(time.Since(start))
	return resp, err
}

// redactedError is a transport error whose text has its secrets removed;
// errors.As still reaches the cause, to classify it.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// Close drops idle connections.
func (h *httpClient) Close() error {
	h.tr.CloseIdleConnections()
	return nil
}
