// Package logging builds the agent's logger: text or JSON lines at a
// level, with repeated warnings and errors rate-limited so that a failure
// loop cannot flood the journal.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// logRepeatWindow is how often one identical warning or error may be
// logged. A broken socket or an unreachable sink fails the same way many
// times a second; the journal needs the first line and a count, not a flood
// that buries everything else.
const logRepeatWindow = 10 * time.Second

// Config is the `log:` section of the configuration.
type Config struct {
	Format string     // "text" or "json"
	Level  slog.Level // records below it are discarded
}

// ParseFormat reads a log format: text or json.
func ParseFormat(s string) (string, error) {
	if s != "text" && s != "json" {
		return "", fmt.Errorf("%q: want text or json", s)
	}
	return s, nil
}

// ParseLevel reads a log level: debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	switch s {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%q: want debug, info, warn or error", s)
}

// New builds the agent's logger: text or JSON on w, records below the
// level discarded, repeated warnings and errors rate-limited.
func New(cfg Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Level}
	var h slog.Handler
	if cfg.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(newRateLimitHandler(h, logRepeatWindow, time.Now))
}

// rateLimitHandler passes each distinct warning or error (level, message
// and every attribute, the logger's own included) at most once per window.
// The next one that gets through after a suppression carries
// suppressed=N, the number dropped since the previous line, so nothing is
// silently lost. Info and debug records pass untouched: they are not the
// ones that repeat in a failure loop.
type rateLimitHandler struct {
	next   slog.Handler
	prefix string // the attributes and groups added with WithAttrs/WithGroup, as part of the key
	lim    *repeatLimiter
}

func newRateLimitHandler(next slog.Handler, window time.Duration, now func() time.Time) *rateLimitHandler {
	return &rateLimitHandler{next: next, lim: &repeatLimiter{window: window, now: now, seen: map[string]*repeat{}}}
}

func (h *rateLimitHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *rateLimitHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return h.next.Handle(ctx, r)
	}
	pass, suppressed := h.lim.allow(h.key(r))
	if !pass {
		return nil
	}
	if suppressed > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Uint64("suppressed", suppressed))
	}
	return h.next.Handle(ctx, r)
}

// key identifies "the same error": everything but the time.
func (h *rateLimitHandler) key(r slog.Record) string {
	var b strings.Builder
	b.WriteString(r.Level.String())
	b.WriteByte(0)
	b.WriteString(h.prefix)
	b.WriteByte(0)
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteByte(0)
		b.WriteString(a.String())
		return true
	})
	return b.String()
}

func (h *rateLimitHandler) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.prefix)
	for _, a := range as {
		b.WriteByte(0)
		b.WriteString(a.String())
	}
	return &rateLimitHandler{next: h.next.WithAttrs(as), prefix: b.String(), lim: h.lim}
}

func (h *rateLimitHandler) WithGroup(name string) slog.Handler {
	return &rateLimitHandler{next: h.next.WithGroup(name), prefix: h.prefix + "\x00group:" + name, lim: h.lim}
}

// repeatLimiter remembers, per key, when it last let a record through and
// how many it dropped since.
type repeatLimiter struct {
	window time.Duration
	now    func() time.Time // injected so tests need no sleeps

	mu   sync.Mutex
	seen map[string]*repeat
}

type repeat struct {
	last       time.Time
	suppressed uint64
}

// maxRepeatKeys bounds the limiter's memory: error texts can embed changing
// values, and a long-running agent must not keep every one it ever saw.
const maxRepeatKeys = 1024

// allow reports whether a record with this key may be logged now and, if
// so, how many were suppressed before it.
func (l *repeatLimiter) allow(key string) (bool, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if r, ok := l.seen[key]; ok {
		if now.Sub(r.last) < l.window {
			r.suppressed++
			return false, 0
		}
		n := r.suppressed
		r.last, r.suppressed = now, 0
		return true, n
	}
	if len(l.seen) >= maxRepeatKeys {
		l.prune(now)
	}
	l.seen[key] = &repeat{last: now}
	return true, 0
}

// prune forgets keys whose window has passed; their suppressed counts are
// lost, which is the price of bounded memory. If every key is still
// recent, it forgets them all rather than grow.
func (l *repeatLimiter) prune(now time.Time) {
	for k, r := range l.seen {
		if now.Sub(r.last) >= l.window {
			delete(l.seen, k)
		}
	}
	if len(l.seen) >= maxRepeatKeys {
		clear(l.seen)
	}
}
