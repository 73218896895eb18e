package ship

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/internal/testenv"
	"golang.org/x/sys/unix"
)

// BenchmarkNDJSONSink measures the stdout and file sinks writing batches of
// 1000 events of ~1.2 KB to a file in a tmpfs, as the agent does with its
// stdout redirected to one: what remains is the copy into the page cache
// (and, for the file sink, an fsync, which a tmpfs makes free). One op is
// one event. The file is emptied, off the clock, every 32 MiB. cpu-ns/op is
// the CPU time of the writing thread, user and system, which a busy
// machine disturbs less than the time per op.
func BenchmarkNDJSONSink(b *testing.B) {
	evs := benchEvents()
	batch := make([]Event, 1000)
	for i := range batch {
		batch[i] = evs[i%len(evs)]
	}
	var size int
	for _, ev := range batch {
		size += len(ev.JSON) + 1
	}
	for _, kind := range []string{"stdout", "file"} {
		b.Run(kind, func(b *testing.B) {
			path := filepath.Join(testenv.Tmpfs(b, 128<<20), "events.ndjson")
			s := ndjsonSinkTo(b, kind, path)
			b.SetBytes(int64(size / len(batch)))
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			ctx, written := context.Background(), 0
			var cpu time.Duration
			b.ResetTimer()
			start := threadCPU(b)
			for i := 0; i < b.N; i += len(batch) {
				if _, err := s.Send(ctx, batch[:min(len(batch), b.N-i)]); err != nil {
					b.Fatal(err)
				}
				if written += size; written > 32<<20 {
					b.StopTimer()
					cpu += threadCPU(b) - start
					if err := os.Truncate(path, 0); err != nil {
						b.Fatal(err)
					}
					written = 0
					start = threadCPU(b)
					b.StartTimer()
				}
			}
			cpu += threadCPU(b) - start
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// threadCPU is the CPU time, user and system, of the calling thread.
func threadCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
