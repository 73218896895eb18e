// Command loadgen sends UDP datagrams to one address at a paced target rate
// for a fixed duration and reports the rate it really achieved. It is the
// traffic source of `make bench` (bench/), run inside a network namespace the
// benchmark created:
//
//	ip netns exec NS taskset -c 0 loadgen -dst 10.231.0.2:9000 -rate 100000 -duration 10s
//
// Datagrams go out in batches with sendmmsg(2), so one core can offer several
// hundred thousand packets per second; each carries a 64-bit counter in its
// payload. On exit it prints one JSON object on stdout:
//
//	{"target_pps":100000,"sent":1000000,"send_errors":0,"elapsed_s":10.0001,"pps":99999}
//
// Send errors (ENOBUFS, ECONNREFUSED from an earlier ICMP error, …) are
// counted, not fatal: the benchmark counts what its nft rule saw anyway.
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// report is what loadgen prints when it is done.
type report struct {
	TargetPPS  float64 `json:"target_pps"`
	Sent       uint64  `json:"sent"`
	SendErrors uint64  `json:"send_errors"`
	ElapsedS   float64 `json:"elapsed_s"`
	PPS        float64 `json:"pps"`
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dst := fs.String("dst", "", "destination `host:port` (UDP)")
	rate := fs.Float64("rate", 10000, "target packets per second")
	duration := fs.Duration("duration", 10*time.Second, "how long to send")
	size := fs.Int("size", 18, "UDP payload `bytes` (at least 8: the packet counter)")
	maxBatch := fs.Int("batch", 64, "largest number of datagrams per sendmmsg call")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dst == "" || *rate <= 0 || *duration <= 0 || *size < 8 || *size > 1472 || *maxBatch < 1 || *maxBatch > 1024 {
		fmt.Fprintln(stderr, "loadgen: need -dst, -rate > 0, -duration > 0, 8 <= -size <= 1472, 1 <= -batch <= 1024")
		return 2
	}
	raddr, err := net.ResolveUDPAddr("udp", *dst)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 2
	}
	conn, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	defer conn.Close()
	rc, err := conn.SyscallConn()
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	var rep report
	var serr error
	cerr := rc.Control(func(fd uintptr) {
		rep, serr = flood(int(fd), *rate, *duration, *size, *maxBatch)
	})
	if err := errors.Join(cerr, serr); err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	if err := json.NewEncoder(stdout).Encode(rep); err != nil {
		return 1
	}
	return 0
}

// batchFor picks the batch size for a rate: about one sendmmsg call per
// half millisecond, so pacing stays smooth at low rates and cheap at high
// ones.
func batchFor(rate float64, maxBatch int) int {
	b := int(rate / 2000)
	return max(1, min(b, maxBatch))
}

// due is how many packets a sender at rate pps should have sent after
// elapsed.
func due(rate float64, elapsed time.Duration) uint64 {
	return uint64(rate * elapsed.Seconds())
}

// flood sends on the connected socket fd until duration has passed, keeping
// the number sent at rate × elapsed time (never ahead of it).
func flood(fd int, rate float64, duration time.Duration, size, maxBatch int) (report, error) {
	batch := batchFor(rate, maxBatch)
	bufs := make([][]byte, maxBatch)
	iovs := make([]unix.Iovec, maxBatch)
	msgs := make([]unix.Mmsghdr, maxBatch)
	for i := range msgs {
		bufs[i] = make([]byte, size)
		iovs[i].Base = &bufs[i][0]
		iovs[i].SetLen(size)
		msgs[i].Hdr.Iov = &iovs[i]
		msgs[i].Hdr.SetIovlen(1)
	}
	var sent, errs uint64
	start := time.Now()
	deadline := start.Add(duration)
	for {
		now := time.Now()
		if !now.Before(deadline) {
			break
		}
		behind := due(rate, now.Sub(start)) - min(sent, due(rate, now.Sub(start)))
		if behind < uint64(batch) {
			// Sleep until a whole batch is due. Sleeps are coarse, which
			// only makes the next batch a little larger.
			wait := time.Duration(float64(uint64(batch)-behind) / rate * float64(time.Second))
			time.Sleep(max(wait, 20*time.Microsecond))
			continue
		}
		n := int(min(behind, uint64(maxBatch)))
		for i := range n {
			binary.LittleEndian.PutUint64(bufs[i], sent+uint64(i))
		}
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(n), 0, 0, 0)
		if e != 0 {
			// Count the datagram that failed and move on; the kernel
			// reports an error only when the first datagram fails.
			errs++
			sent++
			if e != unix.ENOBUFS && e != unix.ECONNREFUSED && e != unix.EAGAIN && e != unix.EINTR {
				return report{}, fmt.Errorf("sendmmsg: %w", e)
			}
			continue
		}
		sent += uint64(r)
	}
	elapsed := time.Since(start)
	return report{
		TargetPPS:  rate,
		Sent:       sent - errs,
		SendErrors: errs,
		ElapsedS:   elapsed.Seconds(),
		PPS:        float64(sent-errs) / elapsed.Seconds(),
	}, nil
}
