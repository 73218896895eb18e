package ship

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/nflog-agent/nflog-agent/internal/redact"
)

// Response bodies are read up to these sizes: a _bulk answer for a large
// batch fits, a misbehaving server cannot make the agent buffer gigabytes.
const (
	maxResponseBody = 32 << 20
	maxErrorBody    = 64 << 10
)

// statusError is an HTTP answer that was not a success. Body is the start
// of the response body, secrets removed, made printable.
type statusError struct {
	Code int
	Body string
	// Location is where a redirect (3xx) points, without userinfo, query
	// or fragment.
	Location string
	// keyRefused marks a refusal that a sink knows to be about its key
	// whatever the status (matched by errUnauthorized like 401).
	keyRefused bool
}

func (e *statusError) Error() string {
	if e.Code >= 300 && e.Code < 400 {
		return fmt.Sprintf("HTTP %d %s to %s (redirects are not followed)", e.Code, http.StatusText(e.Code), e.Location)
	}
	return fmt.Sprintf("HTTP %d %s: %s", e.Code, http.StatusText(e.Code), e.Body)
}

// Is makes a 413 match errTooLarge, a 3xx errRedirected, and a refusal of
// the credentials (401, 403, 407) errUnauthorized.
func (e *statusError) Is(target error) bool {
	switch target {
	case errTooLarge:
		return e.Code == http.StatusRequestEntityTooLarge
	case errRedirected:
		return e.Code >= 300 && e.Code < 400
	case errUnauthorized:
		return e.keyRefused || authStatus(e.Code)
	}
	return false
}

// Refused says whether the destination refused the request for what it
// holds: a 4xx other than 408 and 429, which sending the same events again
// would not change.
func (e *statusError) Refused() bool {
	return e.Code >= 400 && e.Code < 500 && !retryableStatus(e.Code)
}

// httpClient posts request bodies for one sink: gzip, static headers,
// retries through go-retryablehttp, and counters for every attempt. It
// never follows a redirect: the sink's credentials (a header, or a key in
// the body) must not be sent anywhere but the configured URL.
type httpClient struct {
	hc      *http.Client
	tr      *http.Transport
	policy  RetryConfig
	gzip    bool
	headers http.Header
	red     *redact.Secrets
	st      *counters
	// bodies are the request bodies as the sink builds them, gzipped the
	// same compressed, kept for reuse (see bodyLease).
	bodies, gzipped bodyPool
	compressors     gzipWriters
}

func newHTTPClient(c *SinkConfig, red *redact.Secrets, st *counters) (*httpClient, error) {
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
	hc := &http.Client{Transport: timedTransport{tr, st}, Timeout: c.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &httpClient{hc: hc, tr: tr, policy: c.Retry, gzip: c.Compression == "gzip", headers: http.Header{},
		red: red, st: st, bodies: make(bodyPool, c.Concurrency), gzipped: make(bodyPool, c.Concurrency),
		compressors: make(gzipWriters, c.Concurrency)}, nil
}

// retrying returns the go-retryablehttp client for one request of a batch:
// its hooks record every attempt in the batch's retry state and take each
// wait from it.
func (h *httpClient) retrying(rs *retryState) *retryablehttp.Client {
	return &retryablehttp.Client{
		HTTPClient: h.hc,
		RetryMax:   h.policy.Attempts - 1,
		CheckRetry: func(ctx context.Context, resp *http.Response, err error) (bool, error) {
			return h.checkRetry(ctx, rs, resp, err)
		},
		Backoff:      func(_, _ time.Duration, _ int, _ *http.Response) time.Duration { return rs.wait(false) },
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
		RequestLogHook: func(_ retryablehttp.Logger, _ *http.Request, attempt int) {
			if attempt > 0 {
				h.st.retried.Add(1)
			}
		},
	}
}

// checkRetry is the retry policy of the attempts within one request:
// network errors, 408, 429 and 5xx are tried again; certificate errors,
// redirects and every other status are handed to the runner, which knows
// what to do with the batch. Every failed attempt is counted and recorded
// in the batch's retry state; the sink's last error is the runner's to set,
// so a short message here never hides the full one it records.
func (h *httpClient) checkRetry(ctx context.Context, rs *retryState, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		kind := errKind(err)
		h.st.sendErrors.add(kind, 1)
		rs.failed(nil)
		if kind == errTLS {
			return false, nil
		}
		h.attemptFailed(err)
		return true, nil
	}
	if resp.StatusCode < 300 {
		return false, nil
	}
	rs.failed(resp)
	h.st.sendErrors.add(statusKind(resp.StatusCode), 1)
	if !retryableStatus(resp.StatusCode) {
		return false, nil
	}
	h.attemptFailed(fmt.Errorf("HTTP %d from %s", resp.StatusCode, h.red.Redact(resp.Request.URL.Redacted())))
	return true, nil
}

// attemptFailed tells the runner of an attempt that failed and will be
// retried, so an outage is known (logged, and shown as the last error) at
// its first request.
func (h *httpClient) attemptFailed(err error) {
	if h.st.retrying != nil {
		h.st.retrying(err)
	}
}

// newBody returns an empty request body with room for n bytes, for post,
// which owns it from then on and returns it to the sink's pool when the
// transport is done with it.
func (h *httpClient) newBody(n int) []byte { return h.bodies.get(n) }

// post sends body to url, and owns body from then on (see newBody). It
// returns the response body of a 2xx answer, or a *statusError for any
// other status after the retries, or a transport error (secrets removed).
// The retry state of the batch comes with ctx.
func (h *httpClient) post(ctx context.Context, url, contentType string, body []byte) ([]byte, error) {
	sent := &h.bodies
	if h.gzip {
		raw := body
		body = h.compressors.compress(h.gzipped.get(len(raw)/4+64), raw)
		h.bodies.put(raw)
		sent = &h.gzipped
	}
	lease := &bodyLease{body: body, pool: *sent}
	defer lease.requestReturned()
	ctx = httptrace.WithClientTrace(ctx, lease.trace())
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %s", h.red.Redact(err.Error()))
	}
	for k, v := range h.headers {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", contentType)
	if h.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := h.retrying(retryStateFrom(ctx, h.policy)).Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &redactedError{msg: h.red.Redact(err.Error()), err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
		if err != nil {
			return nil, fmt.Errorf("read response: %s", h.red.Redact(err.Error()))
		}
		return b, nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	serr := &statusError{Code: resp.StatusCode, Body: bodySnippet(h.red, b)}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		serr.Location = h.red.Redact(RedirectLocation(resp))
	}
	return nil, serr
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
