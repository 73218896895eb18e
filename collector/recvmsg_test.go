package collector

import (
	"encoding/binary"
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// netlinkSocket opens a non-blocking netlink socket of the given protocol,
// bound to a port ID the kernel picks, and a datagramReader on it.
func netlinkSocket(t *testing.T, protocol int) (fd int, port uint32, r *datagramReader) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, protocol)
	if err != nil {
		t.Fatalf("netlink socket: %v", err)
	}
	f := os.NewFile(uintptr(fd), "netlink")
	t.Cleanup(func() { f.Close() })
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	raw, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return fd, sa.(*unix.SockaddrNetlink).Pid, newDatagramReader(raw)
}

// The reader reports the kernel as port ID 0, and a user-space sender by
// its own port ID, which is how the read loop tells a forged datagram.
func TestDatagramReaderSender(t *testing.T) {
	fd, _, r := netlinkSocket(t, unix.NETLINK_ROUTE)
	// A request about an interface that does not exist: the kernel answers
	// with an error message.
	req := nlmsg(unix.RTM_GETLINK, 7, make([]byte, unix.SizeofIfInfomsg))
	req[6] = unix.NLM_F_REQUEST | unix.NLM_F_ACK
	binary.NativeEndian.PutUint32(req[nlmsghdrLen+4:], 1<<30) // ifi_index
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		t.Fatalf("send request to the kernel: %v", err)
	}
	buf := make([]byte, 4096)
	n, sender, err := r.read(buf)
	if err != nil || sender != kernelPortID || n < nlmsghdrLen {
		t.Fatalf("kernel answer: %d bytes from port %d, err %v", n, sender, err)
	}

	_, rport, rr := netlinkSocket(t, unix.NETLINK_USERSOCK)
	sfd, sport, _ := netlinkSocket(t, unix.NETLINK_USERSOCK)
	msg := nlmsg(msgPacket, 1, packetMsg(1, "FORGED ACCEPT "))
	if err := unix.Sendto(sfd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: rport}); err != nil {
		t.Fatalf("send from user space: %v", err)
	}
	n, sender, err = rr.read(buf)
	if err != nil || sender != sport || n != len(msg) {
		t.Fatalf("user-space datagram: %d bytes from port %d, err %v; want %d bytes from port %d", n, sender, err, len(msg), sport)
	}

	// Too large for the buffer: the reader says so and still names the
	// sender, so a forged datagram is never counted as a truncated one.
	if err := unix.Sendto(sfd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: rport}); err != nil {
		t.Fatal(err)
	}
	if _, sender, err = rr.read(buf[:16]); !errors.Is(err, errTruncated) || sender != sport {
		t.Fatalf("truncated datagram: sender %d, err %v", sender, err)
	}
}

// Reading a datagram allocates nothing: the read loop runs once per kernel
// batch at up to hundreds of thousands of events a second.
func TestDatagramReaderAllocations(t *testing.T) {
	_, rport, rr := netlinkSocket(t, unix.NETLINK_USERSOCK)
	sfd, _, _ := netlinkSocket(t, unix.NETLINK_USERSOCK)
	const runs = 50
	msg := nlmsg(msgPacket, 1, packetMsg(1, "x"))
	for range runs + 1 { // AllocsPerRun calls once more to warm up
		if err := unix.Sendto(sfd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: rport}); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 4096)
	allocs := testing.AllocsPerRun(runs, func() {
		if n, _, err := rr.read(buf); err != nil || n != len(msg) {
			t.Fatalf("read: %d bytes, %v", n, err)
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per read, want 0", allocs)
	}
}
