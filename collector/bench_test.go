package collector

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/decode"
)

// packetMsg encodes one NFLOG packet message as the kernel sends it for a
// TCP SYN logged at input on an Ethernet interface with the given prefix:
// nfgenmsg, then attributes with host-order headers and network-order values.
// The packet is the last attribute, and its TCP sequence number is seq.
func packetMsg(seq uint32, prefix string) []byte {
	b := []byte{decode.FamilyIPv4, 0, 0, 100}
	attr := func(typ uint16, v []byte) {
		b = binary.NativeEndian.AppendUint16(b, uint16(4+len(v)))
		b = binary.NativeEndian.AppendUint16(b, typ)
		b = append(b, v...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	be32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	be16 := func(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
	attr(1, []byte{0x08, 0x00, decode.HookInput, 0})
	attr(10, append([]byte(prefix), 0))
	attr(4, be32(2))
	attr(15, be16(1))
	attr(17, be16(14))
	attr(16, []byte{0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x52, 0x54, 0, 0x65, 0x43, 0x21, 0x08, 0x00})
	attr(8, append(be16(6), 0, 0, 0x52, 0x54, 0, 0x65, 0x43, 0x21, 0, 0))
	attr(3, append(binary.BigEndian.AppendUint64(nil, 1764464523), binary.BigEndian.AppendUint64(nil, 123456)...))
	attr(12, be32(seq))
	packet := []byte{
		0x45, 0, 0, 60, 0x12, 0x34, 0x40, 0, 52, 6, 0, 0, 203, 0, 113, 7, 192, 0, 2, 10,
		0x9c, 0x40, 0, 22, 0, 0, 0, 0, 0, 0, 0, 0, 0xa0, 0x02, 0xfa, 0xf0, 0, 0, 0, 0,
		2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
	}
	binary.BigEndian.PutUint32(packet[tcpSeqAt:], seq)
	attr(9, packet)
	return b
}

// tcpSeqAt is where packetMsg's packet has its TCP sequence number.
const tcpSeqAt = 24

// datagramOf encodes a datagram of n packet messages as the kernel batches
// them, with the sequence numbers first, first+1, ….
func datagramOf(first uint32, n int) []byte {
	var datagram []byte
	for i := range uint32(n) {
		datagram = append(datagram, nlmsg(msgPacket, 0, packetMsg(first+i, "IPTABLES: ACCEPT "))...)
	}
	return append(datagram, nlmsg(3, 0, []byte{0, 0, 0, 0})...) // NLMSG_DONE
}

// BenchmarkDeliver measures the reader's work per datagram of 64 messages
// around the read system call: taking space in a block (moving to a reused
// one now and then), walking the datagram, parsing each message in place,
// naming interfaces, batching, and handing the batch over; and the
// consumer's recycling of the batch and, in turn, of its block.
func BenchmarkDeliver(b *testing.B) {
	datagram := datagramOf(0, 64)
	g, s := newTestReader(GroupConfig{Group: 100})
	now := time.Now()
	deliver := func() {
		s.seq = seqTracker{}
		s.feed(datagram, now)
		g.Recycle(<-g.out)
	}
	warmUp := 2 * blockSize / len(datagram) // the blocks it goes round
	for range warmUp {
		deliver()
	}
	b.SetBytes(int64(len(datagram)))
	b.ResetTimer()
	for range b.N {
		deliver()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(64*b.N), "ns/message")
	if st := g.Stats(); st.DecodeErrors != 0 || st.Received != uint64(64*(warmUp+b.N)) {
		b.Fatalf("stats %+v", st)
	}
}

type fakeNames map[uint32]string

func (f fakeNames) Name(i uint32) string { return f[i] }
