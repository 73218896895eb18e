package decode

import (
	"math/rand"
	"net/netip"
	"strconv"
	"testing"
)

// TestAppendIPv6 checks the hand-written RFC 5952 formatting against
// net/netip on addresses rich in zero runs and on IPv4-mapped ones.
func TestAppendIPv6(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for n := 0; n < 100000; n++ {
		var a [16]byte
		for g := 0; g < 8; g++ {
			switch rng.Intn(4) {
			case 0, 1: // zero group
			case 2:
				a[2*g+1] = byte(rng.Intn(256))
			default:
				a[2*g], a[2*g+1] = byte(rng.Intn(256)), byte(rng.Intn(256))
			}
		}
		if n%10 == 0 {
			a = [16]byte{10: 0xff, 11: 0xff, 12: byte(n), 13: byte(n >> 8), 14: 1, 15: byte(n >> 16)}
		}
		want := netip.AddrFrom16(a).String()
		if got := string(appendIPv6(nil, a[:])); got != want {
			t.Fatalf("appendIPv6(%x) = %q, want %q", a, got, want)
		}
	}
}

func TestAppendIPv4(t *testing.T) {
	for _, a := range [][]byte{{0, 0, 0, 0}, {255, 255, 255, 255}, {1, 22, 100, 9}, {10, 99, 200, 109}} {
		want := netip.AddrFrom4([4]byte(a)).String()
		if got := string(appendIPv4(nil, a)); got != want {
			t.Errorf("appendIPv4(%v) = %q, want %q", a, got, want)
		}
	}
}

// FuzzAppendUint checks the decimal formatters against strconv: appendUint
// on any value, appendUint8 on its low byte, both after existing bytes.
func FuzzAppendUint(f *testing.F) {
	for _, v := range []uint64{0, 9, 10, 99, 100, 255, 9999, 10000, 65535, 99999, 1e9, 1<<32 - 1, 1e10, 1<<64 - 1} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v uint64) {
		prefix := []byte("x=")
		if got, want := appendUint(prefix, v), strconv.AppendUint(prefix, v, 10); string(got) != string(want) {
			t.Fatalf("appendUint(%d) = %q, want %q", v, got, want)
		}
		if got, want := appendUint8(prefix, uint8(v)), strconv.AppendUint(prefix, uint64(uint8(v)), 10); string(got) != string(want) {
			t.Fatalf("appendUint8(%d) = %q, want %q", uint8(v), got, want)
		}
	})
}

func TestAppendUint8(t *testing.T) {
	for v := range 256 {
		if got, want := string(appendUint8(nil, uint8(v))), strconv.Itoa(v); got != want {
			t.Errorf("appendUint8(%d) = %q, want %q", v, got, want)
		}
	}
}

// BenchmarkAppendUint writes the numbers of the benchmark records' headers
// as they come: ports, lengths, ids, windows, sequence numbers.
func BenchmarkAppendUint(b *testing.B) {
	var vals []uint64
	enc := NewEncoder(Options{})
	for _, r := range benchRecords(b) {
		enc.Encode(&r)
		pk := &enc.pk
		vals = append(vals, uint64(pk.sport), uint64(pk.dport), uint64(pk.length), uint64(pk.id),
			uint64(pk.window), uint64(pk.seq), uint64(pk.ack), uint64(pk.echoID), uint64(pk.echoSeq))
	}
	buf := make([]byte, 0, 64)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf = appendUint(buf[:0], vals[i%len(vals)])
	}
}
