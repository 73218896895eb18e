package collector

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/nflog-agent/nflog-agent/internal/netlab"
)

// Only the kernel speaks on an NFLOG socket: a root process in the
// namespace that sends a well-formed NFLOG packet message straight to the
// agent's socket gets it dropped and counted as forged, while the packets
// the kernel logs keep flowing.
func TestLabForgedMessageDropped(t *testing.T) {
	l := netlab.New(t)
	l.B.Nft(t, `table inet lab {
	chain pre {
		type filter hook prerouting priority -450; policy accept;
		ip saddr 10.231.0.1 udp dport 5005 log prefix "real " group 45
	}
}`)
	g := openGroup(t, l.B, GroupConfig{Group: 45}, nil)
	got := drain(g)
	waitFor(t, "the group's reader", labWait, func() bool { return g.current.Load() != nil })
	agent := g.current.Load().conn.PID()

	// The forger: a netfilter netlink socket of its own in the same
	// namespace, as any process with CAP_NET_ADMIN there can open.
	forge := func(seq uint32) {
		t.Helper()
		l.B.MustDo(t, func() error {
			fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			msg := nlmsg(msgPacket, 0, packetMsg(seq, "FORGED ACCEPT "))
			return unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: agent})
		})
	}

	tx := l.Sender(t)
	forge(0)
	mustSend(t, tx, udp4(l, 5005, 1, 0))
	forge(1)
	forge(2)
	mustSend(t, tx, udp4(l, 5005, 2, 0))
	// The socket is read in order: once the second real packet is in, every
	// forged datagram sent before it has been seen.
	waitFor(t, "2 real records", labWait, func() bool { return got.len() >= 2 })

	for _, r := range got.records() {
		if !strings.HasPrefix(r.Prefix, "real ") {
			t.Errorf("delivered a record with prefix %q", r.Prefix)
		}
	}
	if n := got.len(); n != 2 {
		t.Errorf("%d records delivered, want the 2 real ones", n)
	}
	st := g.Stats()
	if st.Forged != 3 || st.Received != 2 || st.DecodeErrors != 0 || st.KernelLost != 0 {
		t.Errorf("stats %+v: want 3 forged, 2 received, nothing else", st)
	}
}
