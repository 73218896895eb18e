package ship

import (
	"fmt"
	"time"

	"github.com/nflog-agent/nflog-agent/internal/setting"
)

// Upper bounds of a sink's numbers. Each sizes something the agent
// allocates or starts (a batch held in memory, one goroutine and one
// connection per concurrent batch, attempts made before a batch is reported
// failed), so a typo of a few zeros must be an error at start, not memory
// exhaustion at the first busy minute.
const (
	maxBatchEvents = 1 << 20
	maxBatchBytes  = 256 << 20
	maxConcurrency = 64
	maxAttempts    = 100
	maxDuration    = 24 * time.Hour
)

// checkBounds reports the first number of c outside its range, as a
// setting.Error on its setting.
func (c *SinkConfig) checkBounds() error {
	ints := []struct {
		key    string
		v, max int
	}{
		{"batch.max_events", c.Batch.MaxEvents, maxBatchEvents},
		{"batch.max_bytes", c.Batch.MaxBytes, maxBatchBytes},
		{"concurrency", c.Concurrency, maxConcurrency},
		{"retry.attempts", c.Retry.Attempts, maxAttempts},
	}
	for _, n := range ints {
		if n.v < 0 || n.v > n.max {
			return &setting.Error{Key: n.key, Err: fmt.Errorf("%d: want 1 to %d", n.v, n.max)}
		}
	}
	durations := []struct {
		key string
		v   time.Duration
	}{
		{"timeout", c.Timeout},
		{"batch.max_age", c.Batch.MaxAge},
		{"retry.initial_backoff", c.Retry.InitialBackoff},
		{"retry.max_backoff", c.Retry.MaxBackoff},
		{"retry.max_retry_after", c.Retry.MaxRetryAfter},
	}
	for _, d := range durations {
		if d.v < 0 || d.v > maxDuration {
			return &setting.Error{Key: d.key, Err: fmt.Errorf("%s: want a duration up to %s", d.v, maxDuration)}
		}
	}
	return nil
}
