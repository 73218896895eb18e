package decode

import (
	"crypto/sha1"
	"math/rand"
	"testing"
)

// communityIDDigest is communityIDSum's digest alone, the zero digest when
// there is none: the tests compare it with crypto/sha1 and hex-encode it.
func communityIDDigest(seed uint16, k flowKey) (sum [20]byte) {
	var state [sha1StateSize]byte
	d, _ := communityIDSum(state[:0], seed, &k)
	copy(sum[:], d)
	return sum
}

// TestSHA1OneBlock checks the single padded block against crypto/sha1 for
// every message length that fits one block, on random bytes.
func TestSHA1OneBlock(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for n := 0; n < sha1.BlockSize-8; n++ {
		for range 50 {
			var in [sha1.BlockSize]byte
			rng.Read(in[:n])
			want := sha1.Sum(in[:n])
			got, ok := sha1OneBlock(make([]byte, 0, sha1StateSize), &in, n)
			if !ok || string(got) != string(want[:]) {
				t.Fatalf("%d bytes %x: got %x %v, want %x", n, in[:n], got, ok, want)
			}
		}
	}
}
