package ship

import (
	"errors"
	"io"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// iovMax is the most buffers one writev takes on Linux (UIO_MAXIOV).
const iovMax = 1024

var newline = []byte{'\n'}

// lineWriter writes batches of events as NDJSON: each event's document and
// a newline, straight from the events' bytes. On a file descriptor (stdout
// or a file) a batch takes a writev per iovMax buffers rather than a copy
// into a buffer and a write per buffer-full. It is not safe for concurrent
// use.
//
// A write that fails part way leaves a line unfinished. The writer keeps
// the rest of that line and writes it first the next time, so the output
// stays whole lines; the events of the failed batch written before the
// failure are written again with the retried batch.
type lineWriter struct {
	out  io.Writer
	fd   syscall.RawConn // out's descriptor; nil: out.Write each buffer
	bufs [][]byte
	iov  []unix.Iovec
	rest []byte // the end of the line a failed write stopped in
}

func newLineWriter(out io.Writer) *lineWriter {
	w := &lineWriter{out: out}
	if c, ok := out.(syscall.Conn); ok {
		w.fd, _ = c.SyscallConn()
	}
	return w
}

// write writes the unfinished line of a failed write, if any, then events.
func (w *lineWriter) write(events []Event) error {
	bufs := append(w.bufs[:0], w.rest)
	for i := range events {
		bufs = append(bufs, events[i].JSON, newline)
	}
	w.bufs = bufs
	n, err := w.writeBufs(bufs)
	clear(bufs) // hold on to no event
	if err != nil {
		w.stopped(n, events)
		return err
	}
	w.rest = w.rest[:0]
	return nil
}

// stopped keeps the end of the line in which a write of w.rest then events
// stopped after n bytes.
func (w *lineWriter) stopped(n int, events []Event) {
	if n < len(w.rest) {
		w.rest = w.rest[:copy(w.rest, w.rest[n:])]
		return
	}
	n -= len(w.rest)
	w.rest = w.rest[:0]
	for _, ev := range events {
		if n == 0 {
			return // on a line boundary
		}
		if n <= len(ev.JSON) {
			w.rest = append(append(w.rest, ev.JSON[n:]...), '\n')
			return
		}
		n -= len(ev.JSON) + 1
	}
}

// writeBufs writes bufs in order and returns how many bytes it wrote. It
// may change bufs.
func (w *lineWriter) writeBufs(bufs [][]byte) (int, error) {
	if w.fd == nil {
		total := 0
		for _, b := range bufs {
			if len(b) == 0 {
				continue
			}
			n, err := w.out.Write(b)
			total += n
			if err != nil {
				return total, err
			}
		}
		return total, nil
	}
	total := 0
	for {
		for len(bufs) > 0 && len(bufs[0]) == 0 {
			bufs = bufs[1:]
		}
		if len(bufs) == 0 {
			return total, nil
		}
		iov := w.iov[:0]
		for _, b := range bufs[:min(len(bufs), iovMax)] {
			if len(b) > 0 {
				iov = append(iov, unix.Iovec{Base: &b[0]})
				iov[len(iov)-1].SetLen(len(b))
			}
		}
		w.iov = iov
		n, err := w.writev(iov)
		clear(iov)
		if errors.Is(err, syscall.EPIPE) {
			// Through Write, a broken pipe on stdout ends the agent with
			// SIGPIPE, as it ends any program; elsewhere it is an error.
			n, err = w.out.Write(bufs[0])
		}
		total += n
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, io.ErrShortWrite
		}
		for n > 0 {
			k := min(n, len(bufs[0]))
			bufs[0] = bufs[0][k:]
			n -= k
			if len(bufs[0]) == 0 {
				bufs = bufs[1:]
			}
		}
	}
}

// writev makes one writev call on the descriptor; on a non-blocking one
// (a pipe os.Pipe made, say) it waits until it can write.
func (w *lineWriter) writev(iov []unix.Iovec) (int, error) {
	var n uintptr
	var errno syscall.Errno
	err := w.fd.Write(func(fd uintptr) bool {
		for {
			n, _, errno = unix.Syscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
			if errno != unix.EINTR {
				return errno != unix.EAGAIN
			}
		}
	})
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, os.NewSyscallError("writev", errno)
	}
	return int(n), nil
}
