package collector

import (
	"errors"
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// datagramReader reads whole netlink datagrams and tells who sent each one.
// unix.Recvmsg would allocate the sender's address on every call, and a
// closure handed to RawConn.Read would allocate its captured variables, so
// the message header, its I/O vector and the address live here and the read
// callback is bound once: a read allocates nothing. A datagramReader is used
// by one goroutine at a time.
type datagramReader struct {
	raw  syscall.RawConn
	try  func(fd uintptr) bool // r.recvmsg, bound once
	hdr  unix.Msghdr
	iov  unix.Iovec
	from unix.RawSockaddrNetlink
	n    int
	err  syscall.Errno

	// SO_MEMINFO's first two values: sk_rmem_alloc, sk_rcvbuf.
	meminfo    [2]uint32
	getMeminfo func(fd uintptr) // r.sockMeminfo, bound once
}

func newDatagramReader(raw syscall.RawConn) *datagramReader {
	r := &datagramReader{raw: raw}
	r.try = r.recvmsg
	r.getMeminfo = r.sockMeminfo
	r.hdr.Name = (*byte)(unsafe.Pointer(&r.from))
	r.hdr.Iov = &r.iov
	r.hdr.SetIovlen(1)
	return r
}

// errTruncated is a datagram larger than the space it was read into: the
// messages in it are lost (and show as a sequence gap).
var errTruncated = errors.New("datagram truncated")

// read reads one datagram into buf, waiting for one to arrive, and returns
// its length and the netlink port ID of its sender: 0 is the kernel, any
// other value a user-space socket.
func (r *datagramReader) read(buf []byte) (n int, sender uint32, err error) {
	r.iov.Base = &buf[0]
	r.iov.SetLen(len(buf))
	err = r.raw.Read(r.try)
	r.iov.Base = nil // the block is not kept alive by the reader
	switch {
	case err != nil:
		return 0, 0, err
	case r.err != 0:
		return 0, 0, fmt.Errorf("recvmsg: %w", r.err)
	case r.hdr.Flags&unix.MSG_TRUNC != 0:
		return r.n, r.from.Pid, errTruncated
	}
	return r.n, r.from.Pid, nil
}

// recvmsg is one attempt; it returns false to wait for the socket to be
// readable again.
func (r *datagramReader) recvmsg(fd uintptr) bool {
	r.hdr.Namelen = unix.SizeofSockaddrNetlink
	r.hdr.Flags = 0
	n, _, errno := unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&r.hdr)), 0)
	r.n, r.err = int(n), errno
	return errno != unix.EAGAIN
}

// fill returns how many bytes of datagrams the kernel holds for the socket
// and how many it may hold before it drops (the granted receive buffer).
func (r *datagramReader) fill() (held, limit int, err error) {
	r.err = 0
	if err := r.raw.Control(r.getMeminfo); err != nil {
		return 0, 0, err
	}
	if r.err != 0 {
		return 0, 0, fmt.Errorf("getsockopt SO_MEMINFO: %w", r.err)
	}
	return int(r.meminfo[0]), int(r.meminfo[1]), nil
}

func (r *datagramReader) sockMeminfo(fd uintptr) {
	size := uint32(unsafe.Sizeof(r.meminfo))
	_, _, r.err = unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
		uintptr(unsafe.Pointer(&r.meminfo[0])), uintptr(unsafe.Pointer(&size)), 0)
}
