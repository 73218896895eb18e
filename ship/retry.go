package ship

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// retryableStatus says whether a response status is worth another attempt:
// 408, 429 and every 5xx. Everything else 4xx is the client's fault and
// would fail the same way again.
func retryableStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// authStatus says whether a status refuses the credentials (or, 407, the
// proxy's): the events are fine, the key is not.
func authStatus(code int) bool {
	return code == http.StatusUnauthorized || code == http.StatusForbidden ||
		code == http.StatusProxyAuthRequired
}

// statusKind is the SendErrors kind of a failed status.
func statusKind(code int) string {
	switch {
	case code >= 300 && code < 400:
		return errRedirect
	case code == http.StatusRequestTimeout:
		return errHTTP408
	case code == http.StatusTooManyRequests:
		return errHTTP429
	case code >= 500:
		return errHTTP5xx
	}
	return errHTTP4xx
}

// errKind classifies a transport error. Certificate problems are told apart
// because they never heal by themselves and need the operator.
func errKind(err error) string {
	var (
		verr  *tls.CertificateVerificationError
		uaerr x509.UnknownAuthorityError
		herr  x509.HostnameError
		cierr x509.CertificateInvalidError
		aerr  tls.AlertError
		rherr tls.RecordHeaderError
		nerr  net.Error
	)
	switch {
	case errors.As(err, &verr), errors.As(err, &uaerr), errors.As(err, &herr), errors.As(err, &cierr),
		errors.As(err, &aerr), errors.As(err, &rherr), strings.Contains(err.Error(), "remote error: tls:"):
		return errTLS
	case errors.As(err, &nerr) && nerr.Timeout():
		return errTimeout
	}
	return errNetwork
}

// retryState is one batch's place in the retry policy. Every failed
// attempt to deliver the batch is recorded here by the layer that saw it
// (go-retryablehttp's check, or the runner for what HTTP did not tell),
// and every wait before the next attempt is decided here, whichever layer
// then waits: so Retry-After is honoured by both, and the backoff keeps
// growing over all the batch's requests instead of restarting with each.
// A retryState belongs to the one goroutine delivering its batch.
type retryState struct {
	policy     RetryConfig
	failures   int           // failed attempts of the batch so far
	retryAfter time.Duration // what the last failed answer asked for
	asked      bool          // the last failed answer had a usable Retry-After
	unwaited   bool          // a failure is recorded that no wait followed yet
}

// failed records a failed attempt and its answer (nil without one).
func (s *retryState) failed(resp *http.Response) {
	s.failures++
	s.asked, s.unwaited = false, true
	if resp != nil {
		s.retryAfter, s.asked = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
}

// wait returns how long to wait before the next attempt: what the last
// answer asked for with Retry-After, up to MaxRetryAfter and at least
// InitialBackoff (a server answering 0 must not make the agent spin);
// else MaxBackoff while the sink is blocked (refused credentials,
// redirect: only the operator mends those); else jittered exponential
// backoff from InitialBackoff, doubling with each failed attempt of the
// batch, up to MaxBackoff.
func (s *retryState) wait(blocked bool) time.Duration {
	s.unwaited = false
	p := s.policy
	switch {
	case s.asked:
		return max(min(s.retryAfter, p.MaxRetryAfter), p.InitialBackoff)
	case blocked:
		return p.MaxBackoff
	}
	return jitter(p.InitialBackoff, p.MaxBackoff, max(s.failures-1, 0))
}

type retryStateKey struct{}

// withRetryState hands a batch's retry state to the HTTP client under the
// sink, through the context of the sink's Send.
func withRetryState(ctx context.Context, s *retryState) context.Context {
	return context.WithValue(ctx, retryStateKey{}, s)
}

// retryStateFrom returns the batch's retry state, or a fresh one for a
// Send made outside a runner.
func retryStateFrom(ctx context.Context, policy RetryConfig) *retryState {
	if s, ok := ctx.Value(retryStateKey{}).(*retryState); ok {
		return s
	}
	return &retryState{policy: policy}
}

// jitter returns a duration between half and all of min·2ⁿ, capped at max:
// sinks that failed together do not all come back at the same instant.
func jitter(min, max time.Duration, n int) time.Duration {
	d := max
	if n < 62 && min > 0 && min <= max>>n {
		d = min << n
	}
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// sleep waits d or until ctx is done, and says which happened first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
