package decode

import (
	"math/rand"
	"net/netip"
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
