package spool

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// benchEvent has the sizes of a real event: a 20-byte ID, a ~200-byte
// kernel line and ~1.1 KB of ECS JSON.
func benchEvent() Event {
	msg := []byte("IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=203.0.113.7 DST=192.0.2.10 LEN=60 " +
		"TOS=0x00 PREC=0x00 TTL=52 ID=4242 DF PROTO=TCP SPT=40000 DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0 ")
	json := make([]byte, 0, 1100)
	for len(json) < 1100 {
		json = fmt.Appendf(json, `"k%d":"%s",`, len(json), "value")
	}
	return Event{ID: []byte("AAAAAAAAAAAAAAAAAAAA"), Message: msg, JSON: json}
}

// benchQueue runs the agent's path through a queue: the decoder's Add into
// an Appender, the Appender's batched Append, one sink reading batches of
// 1000 and committing each. It reports events per second.
func benchQueue(b *testing.B, q Queue, cfg AppenderConfig) {
	r, err := q.Reader("bench")
	if err != nil {
		b.Fatal(err)
	}
	app := NewAppender(q, cfg, func(err error) { b.Error(err) })
	ev := benchEvent()
	done := make(chan int)
	go func() {
		var buf []Event
		n := 0
		for n < b.N {
			<-r.Ready()
			for {
				batch, pos, err := r.Read(buf[:0], 1000, 5<<20)
				if err != nil {
					b.Error(err)
					done <- n
					return
				}
				if len(batch) == 0 {
					break
				}
				n += len(batch)
				if err := r.Commit(pos); err != nil {
					b.Error(err)
				}
				buf = batch
			}
		}
		done <- n
	}()
	b.SetBytes(int64(ev.size()))
	b.ResetTimer()
	for range b.N {
		for !app.Add(ev) {
			// The benchmark measures throughput, not the drop policy: let
			// the Appender make room.
			runtime.Gosched()
		}
	}
	app.Close()
	if n := <-done; n != b.N {
		b.Fatalf("read %d events, want %d", n, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkSpoolDisk: the disk spool (in TMPDIR: put it on the disk to
// measure, not a tmpfs), one fsync per appended batch, with batches of at
// most 1024 events (the Appender before group commit), the defaults (up to
// 8192 events or 2 MiB, what queued during the last fsync), 4 MiB, and the
// defaults with a wait for more events before each fsync.
func BenchmarkSpoolDisk(b *testing.B) {
	for _, c := range []struct {
		name string
		cfg  AppenderConfig
	}{
		{"batch=1024", AppenderConfig{BatchEvents: 1024, BatchBytes: 1 << 30}},
		{"bytes=1MiB", AppenderConfig{BatchBytes: 1 << 20}},
		{"default", AppenderConfig{}},
		{"bytes=4MiB", AppenderConfig{BatchBytes: 4 << 20}},
		{"wait=2ms", AppenderConfig{BatchWait: 2 * time.Millisecond}},
		{"wait=10ms", AppenderConfig{BatchWait: 10 * time.Millisecond}},
	} {
		b.Run(c.name, func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			benchQueue(b, s, c.cfg)
		})
	}
}

// BenchmarkSpoolMemory: the in-memory queue of an agent without spool.dir,
// large enough never to drop (the reader must see every event).
func BenchmarkSpoolMemory(b *testing.B) {
	m := NewMemory(b.N+1, 1<<40, Drop)
	defer m.Close()
	benchQueue(b, m, AppenderConfig{})
}

// BenchmarkSpoolMemoryFlood: the default memory queue under a flood its
// sink cannot keep up with. The decoder adds without pause while the sink
// writes each batch of 1000 to a file, as NDJSON through a 64 KiB buffer,
// as the stdout sink does: during its writes the decoder runs, and the
// full queue drops events, those of the batch the sink holds included.
// B/op is the garbage per event added; it reports the share of the events
// dropped.
func BenchmarkSpoolMemoryFlood(b *testing.B) {
	m := NewMemory(0, 0, Drop)
	defer m.Close()
	r, err := m.Reader("bench")
	if err != nil {
		b.Fatal(err)
	}
	out, err := os.Create(filepath.Join(b.TempDir(), "out.ndjson"))
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	app := NewAppender(m, AppenderConfig{}, func(err error) { b.Error(err) })
	ev := benchEvent()
	flooded, sent := make(chan struct{}), make(chan int)
	go func() {
		var buf []Event
		w := bufio.NewWriterSize(out, 64<<10)
		n := 0
		for {
			batch, pos, err := r.Read(buf[:0], 1000, 5<<20)
			if err != nil {
				b.Error(err)
				break
			}
			if len(batch) == 0 {
				select {
				case <-flooded:
					sent <- n
					return
				case <-r.Ready():
					continue
				}
			}
			for _, e := range batch {
				w.Write(e.JSON)
				w.WriteByte('\n')
			}
			if err := w.Flush(); err != nil {
				b.Error(err)
			}
			if off, _ := out.Seek(0, io.SeekCurrent); off > 16<<20 {
				out.Truncate(0) // keep the file from filling the disk
				out.Seek(0, io.SeekStart)
			}
			n += len(batch)
			if err := r.Commit(pos); err != nil {
				b.Error(err)
			}
			buf = batch
		}
		sent <- n
	}()
	b.SetBytes(int64(ev.size()))
	b.ResetTimer()
	for range b.N {
		app.Add(ev)
	}
	close(flooded)
	n := <-sent
	b.ReportMetric(100*float64(b.N-n)/float64(b.N), "%dropped")
}
