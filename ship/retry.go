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

// statusKind is the SendErrors kind of a failed status.
func statusKind(code int) string {
	switch {
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

// backoff is the wait before attempt n+1 (n from 0): what the server asked
// for with Retry-After (capped at maxRetryAfter), else jittered exponential
// backoff from min to max.
func backoff(min, max, maxRetryAfter time.Duration, n int, resp *http.Response) time.Duration {
	if resp != nil {
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return clamp(d, 0, maxRetryAfter)
		}
	}
	return jitter(min, max, n)
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

func clamp(d, lo, hi time.Duration) time.Duration { return min(max(d, lo), hi) }

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
