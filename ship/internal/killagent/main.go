// Command killagent is a test-only agent for ship's crash test: it appends
// numbered events to a spool, then ships them to one HTTP sink until it is
// stopped (SIGTERM) or killed. It stands in for nflog-agent so the test can
// SIGKILL a real process in the middle of shipping.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nflog-agent/nflog-agent/ship"
	"github.com/nflog-agent/nflog-agent/ship/spool"
)

func main() {
	dir := flag.String("spool", "", "spool directory")
	url := flag.String("url", "", "collector URL")
	ca := flag.String("ca", "", "CA file")
	from := flag.Int("from", 0, "first event number to append")
	to := flag.Int("to", 0, "append events [from, to)")
	batch := flag.Int("batch", 50, "events per request")
	flag.Parse()
	if err := run(*dir, *url, *ca, *from, *to, *batch); err != nil {
		fmt.Fprintln(os.Stderr, "killagent:", err)
		os.Exit(1)
	}
}

func run(dir, url, ca string, from, to, batch int) error {
	q, err := spool.Open(dir, spool.Options{})
	if err != nil {
		return err
	}
	defer q.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	s, err := ship.New(q, []ship.SinkConfig{{
		Type: ship.TypeHTTP, URL: url, TLS: ship.TLSConfig{CAFile: ca}, Concurrency: 1,
		Batch: ship.BatchConfig{MaxEvents: batch, MaxAge: 5 * time.Millisecond},
		Retry: ship.RetryConfig{InitialBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond},
	}}, ship.Options{Logger: log})
	if err != nil {
		return err
	}
	for i := from; i < to; {
		var evs []ship.Event
		for ; i < to && len(evs) < 100; i++ {
			id := fmt.Sprintf("ev-%06d", i)
			evs = append(evs, ship.Event{
				ID:      []byte(id),
				Time:    time.Unix(1_800_000_000, int64(i)*1000).UTC(),
				Message: fmt.Appendf(nil, "IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=60 N=%d", i),
				JSON:    fmt.Appendf(nil, `{"event":{"id":"%s"},"n":%d}`, id, i),
			})
		}
		if err := q.Append(evs...); err != nil {
			return err
		}
	}
	fmt.Println("appended") // the test may kill from now on
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	s.Start()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Shutdown(sctx)
}
