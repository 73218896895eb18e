package collector

import (
	"encoding/binary"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// msgPacket is the type of an NFLOG packet message: NFULNL_MSG_PACKET, which
// is 0, of the NFNL_SUBSYS_ULOG subsystem.
const msgPacket = unix.NFNL_SUBSYS_ULOG << 8

// nlmsghdrLen is the size of struct nlmsghdr: length, type, flags,
// sequence and port ID, in the host's byte order.
const nlmsghdrLen = unix.NLMSG_HDRLEN

// datagramVisitor receives the messages of one datagram that the reader
// acts on: packets (the nfgenmsg header and attributes) and the kernel's
// answers to requests (seq is the request's, errno 0 an ACK).
type datagramVisitor struct {
	packet func(msg []byte)
	answer func(seq uint32, errno syscall.Errno)
}

// splitDatagram walks the netlink messages of one datagram. The kernel ends
// a batch of several packets with NLMSG_DONE, which is skipped like any
// other message type. A malformed header stops the walk with an error; the
// messages before it have been visited.
func splitDatagram(b []byte, v datagramVisitor) error {
	for off := 0; off < len(b); {
		left := len(b) - off
		if left < nlmsghdrLen {
			return fmt.Errorf("netlink message at offset %d: %d bytes left, too few for a header", off, left)
		}
		n := int(binary.NativeEndian.Uint32(b[off:]))
		if n < nlmsghdrLen || n > left {
			return fmt.Errorf("netlink message at offset %d: length %d does not fit the %d bytes left", off, n, left)
		}
		typ := binary.NativeEndian.Uint16(b[off+4:])
		payload := b[off+nlmsghdrLen : off+n : off+n]
		switch typ {
		case msgPacket:
			v.packet(payload)
		case unix.NLMSG_ERROR:
			if len(payload) < 4 {
				return fmt.Errorf("netlink error message at offset %d: %d bytes, too short", off, len(payload))
			}
			seq := binary.NativeEndian.Uint32(b[off+8:])
			v.answer(seq, syscall.Errno(-int32(binary.NativeEndian.Uint32(payload))))
		}
		off += min((n+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1), left)
	}
	return nil
}
