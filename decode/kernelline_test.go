package decode

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// kernelVector is one line of testdata/kernel-vectors.jsonl: NFLOG metadata
// as the kernel sent it, and the line the kernel printed for each flag set.
type kernelVector struct {
	Source string `json:"source"`
	NFLOG  struct {
		Prefix   string  `json:"prefix"`
		Hook     uint8   `json:"hook"`
		HwProto  string  `json:"hwproto"`
		Payload  string  `json:"payload"`
		InDev    uint32  `json:"indev"`
		InName   string  `json:"indev_name"`
		OutDev   uint32  `json:"outdev"`
		OutName  string  `json:"outdev_name"`
		HwType   *uint16 `json:"hwtype"`
		HwLen    uint16  `json:"hwlen"`
		HwHeader string  `json:"hwheader"`
		HwAddr   string  `json:"hwaddr"`
		Mark     uint32  `json:"mark"`
		UID      *uint32 `json:"uid"`
		GID      *uint32 `json:"gid"`
	} `json:"nflog"`
	Expected map[string]string `json:"expected"`
}

func (v *kernelVector) record(t testing.TB) Record {
	n := v.NFLOG
	r := Record{
		Group: 100, HasHook: true, Hook: n.Hook, Prefix: n.Prefix,
		InDev: n.InDev, InName: n.InName, OutDev: n.OutDev, OutName: n.OutName,
		HwLen: n.HwLen, Mark: n.Mark,
		Payload: mustHex(t, n.Payload), HwHeader: mustHex(t, n.HwHeader), HwAddr: mustHex(t, n.HwAddr),
	}
	proto := mustHex(t, n.HwProto)
	r.HwProtocol = uint16(proto[0])<<8 | uint16(proto[1])
	if n.HwType != nil {
		r.HasHwType, r.HwType = true, *n.HwType
	}
	if n.UID != nil {
		r.HasUID, r.UID = true, *n.UID
	}
	if n.GID != nil {
		r.HasGID, r.GID = true, *n.GID
	}
	return r
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	if s == "" {
		return nil
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func loadKernelVectors(t testing.TB) []kernelVector {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "kernel-vectors.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vs []kernelVector
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var v kernelVector
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("no kernel vectors")
	}
	return vs
}

// TestKernelVectors replays every real-kernel vector for every flag set it
// carries and compares the line byte for byte.
func TestKernelVectors(t *testing.T) {
	n := 0
	for i, v := range loadKernelVectors(t) {
		r := v.record(t)
		for fs, want := range v.Expected {
			flags, err := ParseLogFlags(fs)
			if err != nil {
				t.Fatal(err)
			}
			var pk packet
			got := string(appendKernelLine(nil, &r, flags, &pk))
			if got != want {
				t.Errorf("vector %d flags %s:\n got %q\nwant %q", i+1, fs, got, want)
			}
			n++
		}
	}
	t.Logf("%d kernel lines compared", n)
}
