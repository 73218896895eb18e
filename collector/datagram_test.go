package collector

import (
	"encoding/binary"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// nlmsg encodes one netlink message as the kernel writes it: a header in
// host byte order, the payload, padding to 4 bytes.
func nlmsg(typ uint16, seq uint32, payload []byte) []byte {
	b := binary.NativeEndian.AppendUint32(nil, uint32(nlmsghdrLen+len(payload)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = binary.NativeEndian.AppendUint16(b, unix.NLM_F_MULTI)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func nlerr(seq uint32, errno syscall.Errno) []byte {
	return nlmsg(unix.NLMSG_ERROR, seq, binary.NativeEndian.AppendUint32(nil, uint32(-int32(errno))))
}

type visited struct {
	packets []string
	answers []string
}

func visit(t *testing.T, b []byte) (visited, error) {
	t.Helper()
	var v visited
	err := splitDatagram(b, datagramVisitor{
		packet: func(msg []byte) { v.packets = append(v.packets, string(msg)) },
		answer: func(seq uint32, errno syscall.Errno) {
			v.answers = append(v.answers, string(rune('0'+seq))+":"+errno.Error())
		},
	})
	return v, err
}

func TestSplitDatagram(t *testing.T) {
	// A kernel batch: packets (payload lengths not multiples of 4), then
	// NLMSG_DONE; an ACK and an error; unknown types skipped.
	b := cat(nlmsg(msgPacket, 0, []byte("first")), nlmsg(msgPacket, 0, []byte("second!!")),
		nlmsg(unix.NLMSG_NOOP, 0, []byte("x")), nlerr(1, 0), nlerr(2, unix.EPERM), nlmsg(unix.NLMSG_DONE, 0, []byte{0, 0, 0, 0}))
	v, err := visit(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(v.packets, ",") != "first,second!!" {
		t.Errorf("packets %q", v.packets)
	}
	if strings.Join(v.answers, ",") != "1:errno 0,2:operation not permitted" {
		t.Errorf("answers %q", v.answers)
	}
	// The last message's padding may be missing.
	last := nlmsg(msgPacket, 0, []byte("abc"))
	if v, err := visit(t, last[:len(last)-1]); err != nil || len(v.packets) != 1 || v.packets[0] != "abc" {
		t.Errorf("unpadded last message: %q %v", v.packets, err)
	}
}

func TestSplitDatagramErrors(t *testing.T) {
	ok := nlmsg(msgPacket, 0, []byte("ok"))
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"short header", cat(ok, make([]byte, 10)), "offset 20: 10 bytes left, too few for a header"},
		{"length below the header", cat(ok, binary.NativeEndian.AppendUint32(make([]byte, 0, 16), 8), make([]byte, 12)), "offset 20: length 8 does not fit"},
		{"length past the end", cat(ok, nlmsg(msgPacket, 0, []byte("abcd"))[:19]), "offset 20: length 20 does not fit the 19 bytes left"},
		{"short error", cat(ok, nlmsg(unix.NLMSG_ERROR, 0, []byte{1})), "error message at offset 20: 1 bytes, too short"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := visit(t, tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if len(v.packets) != 1 {
				t.Errorf("the message before the fault was not visited: %q", v.packets)
			}
		})
	}
}

// FuzzSplitDatagram checks that no datagram makes the walk panic and that
// every packet it hands out lies within the datagram.
func FuzzSplitDatagram(f *testing.F) {
	f.Add(cat(nlmsg(msgPacket, 0, []byte("first")), nlerr(1, unix.EPERM), nlmsg(unix.NLMSG_DONE, 0, nil)))
	f.Add(nlmsg(msgPacket, 0, []byte("abc"))[:18])
	f.Fuzz(func(t *testing.T, b []byte) {
		total := 0
		splitDatagram(b, datagramVisitor{
			packet: func(msg []byte) { total += len(msg) + nlmsghdrLen },
			answer: func(uint32, syscall.Errno) {},
		})
		if total > len(b) {
			t.Errorf("packets of %d bytes with headers out of a %d-byte datagram", total, len(b))
		}
	})
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}
