package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func testLogger(clock *fakeClock) (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		// Drop the time so lines compare exactly.
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	return slog.New(newRateLimitHandler(h, 10*time.Second, clock.now)), &buf
}

func lines(b *bytes.Buffer) []string {
	s := strings.TrimSuffix(b.String(), "\n")
	b.Reset()
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestRateLimitRepeats(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	log, buf := testLogger(clock)
	boom := errors.New("connection refused")

	for range 5 {
		log.Error("send failed", "sink", "siem", "err", boom)
		clock.advance(time.Second)
	}
	got := lines(buf)
	if want := []string{`level=ERROR msg="send failed" sink=siem err="connection refused"`}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("first 5 s:\n%q\nwant\n%q", got, want)
	}

	// 5 s after the first line: still inside the window.
	clock.advance(4 * time.Second) // t = 9 s
	log.Error("send failed", "sink", "siem", "err", boom)
	if got := lines(buf); got != nil {
		t.Fatalf("inside the window: %q", got)
	}
	clock.advance(time.Second) // t = 10 s: the window has passed
	log.Error("send failed", "sink", "siem", "err", boom)
	if got, want := lines(buf), []string{`level=ERROR msg="send failed" sink=siem err="connection refused" suppressed=5`}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after the window:\n%q\nwant\n%q", got, want)
	}
	// The count restarts.
	clock.advance(10 * time.Second)
	log.Error("send failed", "sink", "siem", "err", boom)
	if got := lines(buf); len(got) != 1 || strings.Contains(got[0], "suppressed") {
		t.Fatalf("nothing suppressed since the last line: %q", got)
	}
}

// Records that differ in level, message, attributes or the logger's own
// attributes are different errors; info and debug are never limited.
func TestRateLimitDistinct(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	log, buf := testLogger(clock)
	g100, g101 := log.With("group", 100), log.With("group", 101)
	for range 3 {
		g100.Warn("NFLOG socket failed")
		g101.Warn("NFLOG socket failed")
		g100.Error("NFLOG socket failed")
		g100.Warn("NFLOG socket failed", "err", "x")
		log.WithGroup("sink").Warn("NFLOG socket failed")
		log.Info("reopen requested")
		log.Debug("tick")
	}
	got := lines(buf)
	if len(got) != 5+3+3 {
		t.Fatalf("%d lines, want 5 distinct warnings once and 3 infos and debugs each:\n%s", len(got), strings.Join(got, "\n"))
	}
}

// The limiter's memory stays bounded however many distinct errors come.
func TestRateLimitBounded(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	h := newRateLimitHandler(slog.DiscardHandler, 10*time.Second, clock.now)
	log := slog.New(h)
	for i := range 3 * maxRepeatKeys {
		log.Error("failed", "n", i)
		if i%100 == 0 {
			clock.advance(time.Second)
		}
	}
	if n := len(h.lim.seen); n > maxRepeatKeys {
		t.Errorf("%d keys remembered, max %d", n, maxRepeatKeys)
	}
}

func TestNewLoggerFormats(t *testing.T) {
	var buf bytes.Buffer
	New(Config{Format: "json", Level: slog.LevelWarn}, &buf).Info("hidden")
	New(Config{Format: "json", Level: slog.LevelWarn}, &buf).Warn("shown", "group", 100)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || rec["msg"] != "shown" || rec["group"] != float64(100) {
		t.Errorf("json, level warn: %q (%v)", buf.String(), err)
	}
	buf.Reset()
	New(Config{Format: "text", Level: slog.LevelDebug}, &buf).Debug("shown")
	if !strings.Contains(buf.String(), "level=DEBUG msg=shown") {
		t.Errorf("text, level debug: %q", buf.String())
	}
}
