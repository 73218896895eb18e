package ctmirror

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nflog-agent/nflog-agent/decode"
)

// BenchmarkMirror measures the mirror's work for one new connection, as a
// router creating them at 10k and 100k per second would give it: the
// connection's new, update and destroy events, and the lookups of two of
// its logged packets (one each way). Connections live 10 s and destroyed
// entries stay 2 s more, on a clock that advances 1/rate per connection,
// so the table holds 120k entries at 10k/s and is at its bound (131072,
// with evictions) at 100k/s. The socket read is not included. Besides the
// wall time it reports cpu-ns/op, the process's CPU time (garbage
// collection included), which a machine shared with other work does not
// inflate.
func BenchmarkMirror(b *testing.B) {
	for _, rate := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("%dk_new_per_s", rate/1000), func(b *testing.B) {
			benchmarkMirror(b, rate)
		})
	}
}

// cpuTime is the process's user and system CPU time so far, in ns.
func cpuTime(tb testing.TB) int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// benchConn patches a template connection's events and packets.
type benchConn struct {
	newMsg, updMsg, delMsg []byte
	idOffs                 [3]int // CTA_ID in each message
	addrOffs               [3]int // the client's address in each message
	out, in                []byte // a packet each way
}

func newBenchConn(tb testing.TB) *benchConn {
	client := netip.MustParseAddrPort("10.201.202.203:48879")
	c := snatConn(0xa5a5a5a5, client)
	c.status |= decode.CtStatusSeenReply
	bc := &benchConn{
		newMsg: ctnlMessage(tb, msgNew, newFlags, c),
		updMsg: ctnlMessage(tb, msgNew, 0, c),
		delMsg: ctnlMessage(tb, msgDelete, 0, c),
		out:    ip4Packet(protoTCP, c.orig[0], c.orig[1], 0),
		in:     ip4Packet(protoTCP, c.reply[0], c.reply[1], 0),
	}
	for i, m := range [][]byte{bc.newMsg, bc.updMsg, bc.delMsg} {
		bc.idOffs[i] = bytes.Index(m, []byte{0xa5, 0xa5, 0xa5, 0xa5})
		bc.addrOffs[i] = bytes.Index(m, client.Addr().AsSlice())
	}
	return bc
}

// patch makes the templates connection n: id n+1 from client 10.x.y.z.
func (bc *benchConn) patch(n int) {
	addr := []byte{10, byte(n >> 16), byte(n >> 8), byte(n)}
	for i, m := range [][]byte{bc.newMsg, bc.updMsg, bc.delMsg} {
		binary.BigEndian.PutUint32(m[bc.idOffs[i]:], uint32(n+1))
		copy(m[bc.addrOffs[i]:], addr)
	}
	copy(bc.out[12:], addr)
}

func benchmarkMirror(b *testing.B, rate int) {
	live := 10 * rate
	m := newTestMirror(DefaultMaxEntries)
	clock := time.Unix(0, 0)
	m.now = func() time.Time { return clock }
	tick := time.Second / time.Duration(rate)
	bc := newBenchConn(b)
	// The table as it is in the steady state: live connections.
	for n := range live {
		bc.patch(n)
		m.applyDatagram(bc.newMsg)
		clock = clock.Add(tick)
	}
	out := decode.Record{Family: decode.FamilyIPv4, Payload: bc.out}
	in := decode.Record{Family: decode.FamilyIPv4, Payload: bc.in}
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	missed := 0
	for i := 0; i < b.N; i++ {
		n := live + i
		clock = clock.Add(tick)
		bc.patch(n)
		m.applyDatagram(bc.newMsg)
		m.applyDatagram(bc.updMsg)
		if _, found := m.Lookup(&out); !found {
			missed++
		}
		m.Lookup(&in)
		bc.patch(n - live) // the connection that ends now
		m.applyDatagram(bc.delMsg)
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
	if missed > 0 {
		b.Fatalf("%d of %d lookups missed", missed, b.N)
	}
	b.ReportMetric(float64(m.Stats().Entries), "entries")
}
