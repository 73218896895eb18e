package decode

import (
	"crypto/fips140"
	"crypto/sha1"
	"math/rand"
	"os"
	"os/exec"
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

// TestCommunityIDRefusedSHA1 hashes where SHA-1 is refused (FIPS 140-only
// mode, fixed when a process starts, hence the child process): events
// leave network.community_id out, without a panic or an allocation.
func TestCommunityIDRefusedSHA1(t *testing.T) {
	if os.Getenv("DECODE_TEST_FIPS_ONLY") == "1" {
		if !fips140.Enforced() {
			t.Fatal("the child is not in FIPS 140-only mode")
		}
		k := cidKey(t, 6, "1.2.3.4", "5.6.7.8", 1122, 3344, true)
		buf := make([]byte, 0, 64)
		if n := testing.AllocsPerRun(10, func() { buf = appendCommunityID(buf[:0], 0, k) }); n != 0 || len(buf) != 0 {
			t.Fatalf("appendCommunityID gave %q with %v allocations, want nothing and none", buf, n)
		}
		for _, r := range benchRecords(t) {
			if m := encodeMap(t, Options{}, &r); field(m, "network.community_id") != nil {
				t.Fatalf("event has network.community_id %v", field(m, "network.community_id"))
			}
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCommunityIDRefusedSHA1$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GODEBUG=fips140=only", "DECODE_TEST_FIPS_ONLY=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child in FIPS 140-only mode: %v\n%s", err, out)
	}
}
