package decode

import (
	"cmp"
	"crypto/fips140"
	"crypto/sha1"
	"encoding"
	"encoding/base64"
	"encoding/binary"
	"slices"
)

// Community ID v1 (github.com/corelight/community-id-spec): a direction-free
// flow hash that Zeek, Suricata and Elastic also emit, so events from this
// agent can be joined with theirs on network.community_id.

// flowKey is what the Community ID hashes. Src and Dst are 4-byte (IPv4) or
// 16-byte (IPv6) addresses in network order.
type flowKey struct {
	Src, Dst         []byte
	Proto            uint8
	SrcPort, DstPort uint16 // for ICMP (1) and ICMPv6 (58): type and code
	HasPorts         bool   // false: hash without ports even for port protocols
}

// valid reports whether the addresses can be hashed; the spec allows an empty
// ID for anything else, and the fixed-size input buffer relies on it.
func (k flowKey) valid() bool {
	return len(k.Src) == len(k.Dst) && (len(k.Src) == 4 || len(k.Src) == 16)
}

// appendCommunityID appends "1:" + standard base64 (with padding) of the
// SHA-1 digest to dst. It appends nothing if k's addresses are not both 4 or
// both 16 bytes long, or if SHA-1 is not available.
func appendCommunityID(dst []byte, seed uint16, k flowKey) []byte {
	var state [sha1StateSize]byte
	sum, ok := communityIDSum(state[:0], seed, &k)
	if !ok {
		return dst
	}
	const n = 2 + 28 // 20 digest bytes are 28 base64 chars with padding
	dst = slices.Grow(dst, n)
	out := dst[len(dst) : len(dst)+n]
	out[0], out[1] = '1', ':'
	base64.StdEncoding.Encode(out[2:], sum)
	return dst[:len(dst)+n]
}

// communityIDSum returns the raw SHA-1 digest, held in state's array, or
// false for a key that is not valid or when SHA-1 is not available. The key
// and the digest are passed by reference: a copy of either reads bytes just
// stored in smaller pieces, which stalls the CPU until the stores complete.
func communityIDSum(state []byte, seed uint16, k *flowKey) ([]byte, bool) {
	if !k.valid() {
		return nil, false
	}
	src, dst, sport, dport := k.Src, k.Dst, k.SrcPort, k.DstPort
	ports := k.HasPorts && hasPortProto(k.Proto)
	oneWay := false
	if ports && (k.Proto == 1 || k.Proto == 58) {
		// ICMP has no ports: the type stands in for sport and its
		// counterpart for dport, so request and reply hash alike. Types
		// without a counterpart keep the code and are never reordered.
		if peer, ok := icmpCounterpart(k.Proto, sport); ok {
			dport = peer
		} else {
			oneWay = true
		}
	}
	// Order the endpoints so both directions of a flow hash the same.
	if c := compareAddrs(src, dst); !oneWay && (c > 0 || (c == 0 && ports && sport > dport)) {
		src, dst, sport, dport = dst, src, dport, sport
	}

	// seed · saddr · daddr · proto · 0 · [sport · dport], at most 40 bytes
	// (IPv6 with ports), always fits one SHA-1 block with its padding, so
	// the block is built here, padded, and compressed once.
	// The addresses are copied as arrays of their two possible sizes: a
	// copy of a length that changes from packet to packet would branch on
	// it inside runtime.memmove.
	var in [sha1.BlockSize]byte
	binary.BigEndian.PutUint16(in[0:], seed)
	if len(src) == 4 {
		*(*[4]byte)(in[2:6]) = [4]byte(src)
		*(*[4]byte)(in[6:10]) = [4]byte(dst)
	} else {
		*(*[16]byte)(in[2:18]) = [16]byte(src)
		*(*[16]byte)(in[18:34]) = [16]byte(dst)
	}
	n := 2 + 2*len(src)
	in[n], in[n+1] = k.Proto, 0
	n += 2
	if ports {
		binary.BigEndian.PutUint16(in[n:], sport)
		binary.BigEndian.PutUint16(in[n+2:], dport)
		n += 4
	}
	return sha1OneBlock(state, &in, n)
}

// sha1StateSize is the length of crypto/sha1's state encoding: magic, the
// five state words big-endian, the pending block and the length.
const sha1StateSize = len(sha1StateMagic) + sha1.Size + sha1.BlockSize + 8

const sha1StateMagic = "sha\x01"

// sha1OneBlock returns the SHA-1 digest of the first n < 56 bytes of in,
// which must be zero past them. It pads the message itself and feeds the
// single block to a crypto/sha1 hash, whose state after that block is the
// digest: read through the hash's documented state encoding, appended to
// state, this skips sha1.Sum's buffering and second copy of the padding,
// which cost as much as the compression. The hash stays on the stack. The
// digest is a view of state's array. Should a future crypto/sha1 encode its
// state otherwise, sha1.Sum gives the digest instead. It reports false if
// SHA-1 is refused (FIPS 140-only mode).
func sha1OneBlock(state []byte, in *[sha1.BlockSize]byte, n int) ([]byte, bool) {
	if fips140.Enforced() {
		return nil, false // SHA-1 is refused: not tried, as each refusal allocates its error
	}
	msg := in[:n]
	in[n] = 0x80
	binary.BigEndian.PutUint64(in[sha1.BlockSize-8:], uint64(n)*8)
	h := sha1.New()
	if st, ok := h.(encoding.BinaryAppender); ok {
		h.Write(in[:]) // a hash's Write never fails
		enc, err := st.AppendBinary(state[:0])
		if err == nil && len(enc) == sha1StateSize && string(enc[:len(sha1StateMagic)]) == sha1StateMagic {
			return enc[len(sha1StateMagic) : len(sha1StateMagic)+sha1.Size], true
		}
	}
	sum := sha1.Sum(msg)
	return append(state[:0], sum[:]...), true
}

// compareAddrs is bytes.Compare for two addresses of the same size, 4 or
// 16 bytes, compared as big-endian integers: no call, and no branch on a
// length that changes from packet to packet.
func compareAddrs(a, b []byte) int {
	if len(a) == 4 {
		return cmp.Compare(binary.BigEndian.Uint32(a), binary.BigEndian.Uint32(b))
	}
	if c := cmp.Compare(binary.BigEndian.Uint64(a), binary.BigEndian.Uint64(b)); c != 0 {
		return c
	}
	return cmp.Compare(binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[8:]))
}

// hasPortProto reports whether the spec hashes ports for proto (pycommunityid
// PORT_PROTOS: ICMP, TCP, UDP, ICMPv6, SCTP); other protocols hash none.
func hasPortProto(proto uint8) bool {
	switch proto {
	case 1, 6, 17, 58, 132:
		return true
	}
	return false
}

// icmpCounterpart returns the type answering (or answered by) ICMP or ICMPv6
// type t, per the spec's tables (after Zeek's ICMP4_counterpart).
func icmpCounterpart(proto uint8, t uint16) (uint16, bool) {
	var pairs [][2]uint16
	switch proto {
	case 1:
		pairs = icmp4Pairs[:]
	case 58:
		pairs = icmp6Pairs[:]
	}
	for _, p := range pairs {
		switch t {
		case p[0]:
			return p[1], true
		case p[1]:
			return p[0], true
		}
	}
	return 0, false
}

var (
	// echo, timestamp, info, router solicit/advert, address mask
	icmp4Pairs = [...][2]uint16{{8, 0}, {13, 14}, {15, 16}, {10, 9}, {17, 18}}
	// echo, MLD query/report, RS/RA, NS/NA, node information, HAAD
	icmp6Pairs = [...][2]uint16{{128, 129}, {130, 131}, {133, 134}, {135, 136}, {139, 140}, {144, 145}}
)
