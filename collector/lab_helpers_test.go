package collector

import (
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/nflog-agent/nflog-agent/decode"
	"github.com/nflog-agent/nflog-agent/internal/netlab"
)

// sink drains a group's Records on its own goroutine, as the decode stage
// would, and keeps them for assertions.
type sink struct {
	mu   sync.Mutex
	recs []decode.Record
	gate chan struct{} // closed: consume; open: hold (lets the queue fill up)
	done chan struct{}
}

func drain(g *Group) *sink { return drainGated(g, true) }

// drainGated starts a sink; with open=false it consumes nothing until
// release is called.
func drainGated(g *Group, open bool) *sink {
	s := &sink{gate: make(chan struct{}), done: make(chan struct{})}
	if open {
		close(s.gate)
	}
	go func() {
		defer close(s.done)
		<-s.gate
		for batch := range g.Records() {
			s.mu.Lock()
			s.recs = append(s.recs, batch.Records()...)
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *sink) release() { close(s.gate) }

func (s *sink) records() []decode.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]decode.Record(nil), s.recs...)
}

func (s *sink) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.recs)
}

// labWait bounds every wait of the lab tests. Only a failure ever waits
// this long; it is generous because CI machines can be loaded (fuzzers, other
// packages' tests) and slowness must not turn into a false failure.
const labWait = 30 * time.Second

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// openGroup opens a group in the lab's firewall namespace and closes it at
// cleanup.
func openGroup(t *testing.T, ns *netlab.NS, cfg GroupConfig, names Namer) *Group {
	t.Helper()
	g, err := OpenGroup(cfg, GroupOptions{NetNS: ns.Fd(), Names: names})
	if err != nil {
		t.Fatalf("open group %d: %v", cfg.Group, err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// udp4 builds an Ethernet frame A → B carrying a UDP datagram whose payload
// starts with a 4-byte big-endian counter, so a test can tell which packets
// arrived.
func udp4(l *netlab.Lab, dport uint16, counter uint32, extra int) []byte {
	payload := make([]byte, 4+extra)
	binary.BigEndian.PutUint32(payload, counter)
	eth := &layers.Ethernet{SrcMAC: l.MACA, DstMAC: l.MACB, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Id: uint16(counter), Protocol: layers.IPProtocolUDP, SrcIP: netlab.IPv4A, DstIP: netlab.IPv4B}
	udp := &layers.UDP{SrcPort: 40000, DstPort: layers.UDPPort(dport)}
	udp.SetNetworkLayerForChecksum(ip)
	return serialize(eth, ip, udp, gopacket.Payload(payload))
}

func udp6(l *netlab.Lab, dport uint16, counter uint32) []byte {
	payload := make([]byte, 4)
	binary.BigEndian.PutUint32(payload, counter)
	eth := &layers.Ethernet{SrcMAC: l.MACA, DstMAC: l.MACB, EthernetType: layers.EthernetTypeIPv6}
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: netlab.IPv6A, DstIP: netlab.IPv6B}
	udp := &layers.UDP{SrcPort: 40000, DstPort: layers.UDPPort(dport)}
	udp.SetNetworkLayerForChecksum(ip)
	return serialize(eth, ip, udp, gopacket.Payload(payload))
}

func serialize(ls ...gopacket.SerializableLayer) []byte {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// udpInfo reads the destination port and counter of a packet built by
// udp4/udp6 from a record's payload.
func udpInfo(r *decode.Record) (dport uint16, counter uint32, ok bool) {
	p := r.Payload
	off := 0
	switch {
	case len(p) >= 20 && p[0]>>4 == 4:
		off = int(p[0]&0xf) * 4
	case len(p) >= 40 && p[0]>>4 == 6:
		off = 40
	default:
		return 0, 0, false
	}
	if len(p) < off+12 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint16(p[off+2:]), binary.BigEndian.Uint32(p[off+8:]), true
}

// keepSending sends udp4 frames to dport every interval until stop is
// closed, and records when each counter value was sent.
type pacer struct {
	mu    sync.Mutex
	sent  []time.Time // index = counter
	stop  chan struct{}
	done  chan struct{}
	fails int
}

func keepSending(l *netlab.Lab, s *netlab.Sender, dport uint16, interval time.Duration) *pacer {
	p := &pacer{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for c := uint32(0); ; c++ {
			p.mu.Lock()
			p.sent = append(p.sent, time.Now())
			p.mu.Unlock()
			if s.Send(udp4(l, dport, c, 0)) != nil {
				p.mu.Lock()
				p.fails++
				p.mu.Unlock()
			}
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

func (p *pacer) halt() []time.Time {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent
}

func (p *pacer) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sent)
}

// labCountedRule makes a lab whose namespace B logs every UDP packet from A
// to port to group, with a counter named comment, before routing.
func labCountedRule(t *testing.T, port, group int, comment string) *netlab.Lab {
	l := netlab.New(t)
	l.B.Nft(t, fmt.Sprintf(`table inet lab {
	chain pre {
		type filter hook prerouting priority -450; policy accept;
		ip saddr 10.231.0.1 udp dport %d counter log group %d comment %q
	}
}`, port, group, comment))
	return l
}
