package netlab

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Kmsg collects kernel log lines (from /dev/kmsg) that contain a tag, from
// the moment it is opened.
type Kmsg struct {
	fd    int
	tag   string
	mu    sync.Mutex
	lines []string
	stop  chan struct{}
	done  chan struct{}
}

// OpenKmsg starts collecting lines that contain tag; older records are
// skipped (the reader seeks to the end first).
func OpenKmsg(t testing.TB, tag string) *Kmsg {
	t.Helper()
	fd, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("netlab: open /dev/kmsg: %v", err)
	}
	if _, err := unix.Seek(fd, 0, unix.SEEK_END); err != nil {
		unix.Close(fd)
		t.Fatalf("netlab: seek /dev/kmsg: %v", err)
	}
	k := &Kmsg{fd: fd, tag: tag, stop: make(chan struct{}), done: make(chan struct{})}
	go k.loop()
	t.Cleanup(k.Close)
	return k
}

// Close stops collecting.
func (k *Kmsg) Close() {
	select {
	case <-k.stop:
	default:
		close(k.stop)
		<-k.done
		unix.Close(k.fd)
	}
}

// Lines returns the collected lines so far, unescaped, in kernel order.
func (k *Kmsg) Lines() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.lines...)
}

func (k *Kmsg) loop() {
	defer close(k.done)
	buf := make([]byte, 8192) // one record per read; records are < 8 KiB
	for {
		n, err := unix.Read(k.fd, buf)
		switch {
		case err == nil:
			k.add(string(buf[:n]))
			continue
		case errors.Is(err, unix.EPIPE):
			continue // records were overwritten before we read them; the test will see them missing
		case errors.Is(err, unix.EAGAIN):
		default:
			return
		}
		select {
		case <-k.stop:
			return
		case <-time.After(time.Millisecond):
		}
	}
}

func (k *Kmsg) add(rec string) {
	// "prio,seq,usec,flags[,…];text\n" followed by " KEY=value\n" lines.
	_, text, ok := strings.Cut(rec, ";")
	if !ok {
		return
	}
	text, _, _ = strings.Cut(text, "\n")
	if !strings.Contains(text, k.tag) {
		return
	}
	line := Unescape(text)
	k.mu.Lock()
	k.lines = append(k.lines, line)
	k.mu.Unlock()
}

// Unescape undoes /dev/kmsg's escaping of non-printable bytes and backslash
// as \xNN.
func Unescape(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
