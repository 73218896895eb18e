package netlab

import (
	"fmt"
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// Sender injects raw Ethernet frames on side A's veth with an AF_PACKET
// socket, so B's kernel receives exactly the bytes a test built (odd flags,
// options, fragments) — nothing rewrites them on the way.
type Sender struct {
	fd   int
	addr unix.SockaddrLinklayer
}

// Sender opens a packet socket on A's veth, closed at cleanup.
func (l *Lab) Sender(t testing.TB) *Sender {
	t.Helper()
	var s Sender
	err := l.A.Do(func() error {
		ifi, err := net.InterfaceByName(l.VethA)
		if err != nil {
			return err
		}
		// Protocol 0: send only, never queue received frames.
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		s.fd = fd
		s.addr = unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}
		copy(s.addr.Addr[:], l.MACB)
		return nil
	})
	if err != nil {
		t.Fatalf("netlab: packet socket in %s: %v", l.A.Name, err)
	}
	t.Cleanup(func() { unix.Close(s.fd) })
	return &s
}

// Send transmits one complete Ethernet frame.
func (s *Sender) Send(frame []byte) error {
	if err := unix.Sendto(s.fd, frame, 0, &s.addr); err != nil {
		return fmt.Errorf("netlab: send frame: %w", err)
	}
	return nil
}
