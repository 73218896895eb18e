package decode

import (
	"math/bits"
	"slices"
)

const hexLower = "0123456789abcdef"
const hexUpper = "0123456789ABCDEF"

// The formatters below write their text in place, in room made for it
// beforehand: on this path a copy from a stack buffer costs more than the
// bytes it moves.

// appendHex appends v in hex, zero-padded to at least width digits.
func appendHex(b []byte, v uint64, width int, upper bool) []byte {
	digits := hexLower
	if upper {
		digits = hexUpper
	}
	n := max((bits.Len64(v)+3)/4, width, 1)
	b = slices.Grow(b, n)
	out := b[len(b) : len(b)+n]
	for i := n - 1; i >= 0; i-- {
		out[i] = digits[v&0xf]
		v >>= 4
	}
	return b[:len(b)+n]
}

// appendHexBytes appends each byte as two upper-case hex digits, as the
// kernel prints IP and TCP options.
func appendHexBytes(b, p []byte) []byte {
	for _, c := range p {
		b = append(b, hexUpper[c>>4], hexUpper[c&0xf])
	}
	return b
}

// hexPairs holds the two hex digits of every byte value, in lower case
// ([0]) and upper case ([1]): one lookup and one 2-byte store per byte.
var hexPairs = func() (t [2][256][2]byte) {
	for c := range 256 {
		t[0][c] = [2]byte{hexLower[c>>4], hexLower[c&0xf]}
		t[1][c] = [2]byte{hexUpper[c>>4], hexUpper[c&0xf]}
	}
	return t
}()

// macTextLen is the length of a 6-byte MAC address as text.
const macTextLen = len("aa:bb:cc:dd:ee:ff")

// appendMAC appends p as hex bytes joined by sep. Each byte is written with
// a separator after it, the last one dropped: no branch in the loop.
func appendMAC(b, p []byte, sep byte, upper bool) []byte {
	if len(p) == 0 {
		return b
	}
	pairs := &hexPairs[boolByte(upper)]
	n := 3 * len(p)
	b = slices.Grow(b, n)
	out := b[len(b) : len(b)+n]
	for i, c := range p {
		o := out[3*i : 3*i+3]
		o[0], o[1], o[2] = pairs[c][0], pairs[c][1], sep
	}
	return b[:len(b)+n-1]
}

// octets holds each byte value in decimal followed by a dot, and the length
// of that text: an address is four fixed-size copies, without branches.
var octets = func() (t [256]struct {
	text [4]byte
	n    int
}) {
	for c := range t {
		s := append(appendUint(nil, uint64(c)), '.')
		copy(t[c].text[:], s)
		t[c].n = len(s)
	}
	return t
}()

// appendIPv4 appends a 4-byte address in dotted-quad form.
func appendIPv4(b, a []byte) []byte {
	const room = len("255.255.255.255.")
	b = slices.Grow(b, room)
	out := b[len(b) : len(b)+room]
	n := 0
	for _, c := range a[:4] {
		o := &octets[c]
		*(*[4]byte)(out[n:]) = o.text
		n += o.n
	}
	return b[:len(b)+n-1] // without the last dot
}

// fixedText is a short text written several times per event, such as a
// quoted address. It is copied whole, bytes past its length included: a
// copy of a fixed size is a few vector moves, where one of a variable size
// branches on the length.
type fixedText struct {
	text [64]byte
	n    int
}

// newFixedText returns s as a fixedText; s is one of the package's
// constant texts, which all fit.
func newFixedText(s string) (t fixedText) {
	if len(s) > len(t.text) {
		panic("decode: fixed text too long: " + s)
	}
	t.n = copy(t.text[:], s)
	return t
}

// appendTo appends the text to b.
func (t *fixedText) appendTo(b []byte) []byte {
	b = slices.Grow(b, len(t.text))
	*(*[len(t.text)]byte)(b[len(b) : len(b)+len(t.text)]) = t.text
	return b[:len(b)+t.n]
}

// ipv6MaxLen is the length of an uncompressed IPv6 address.
const ipv6MaxLen = len("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")

// appendIPv6Full appends a 16-byte address the way the kernel's %pI6 does:
// eight groups of four lower-case hex digits, never compressed.
func appendIPv6Full(b, a []byte) []byte {
	b = slices.Grow(b, ipv6MaxLen)
	out := b[len(b) : len(b)+ipv6MaxLen]
	for i := 0; i < 8; i++ {
		if i > 0 {
			out[5*i-1] = ':'
		}
		*(*[2]byte)(out[5*i:]) = hexPairs[0][a[2*i]]
		*(*[2]byte)(out[5*i+2:]) = hexPairs[0][a[2*i+1]]
	}
	return b[:len(b)+ipv6MaxLen]
}

// appendIPv6 appends a 16-byte address as net/netip prints it: RFC 5952,
// with the first longest run of two or more zero groups as "::", and
// IPv4-mapped addresses as ::ffff:a.b.c.d.
func appendIPv6(b, a []byte) []byte {
	var g [8]uint16
	var zeros uint8 // bit i set: group i is zero
	for i := range g {
		g[i] = uint16(a[2*i])<<8 | uint16(a[2*i+1])
		if g[i] == 0 {
			zeros |= 1 << i
		}
	}
	if zeros&0x1f == 0x1f && g[5] == 0xffff {
		b = append(b, "::ffff:"...)
		return appendIPv4(b, a[12:16])
	}
	run := ipv6ZeroRuns[zeros]
	zeroStart, zeroEnd := int(run[0]), int(run[1])
	b = slices.Grow(b, ipv6MaxLen)
	out := b[len(b) : len(b)+ipv6MaxLen]
	n := 0
	for i := 0; i < 8; i++ {
		if i == zeroStart {
			out[n], out[n+1] = ':', ':'
			n += 2
			i = zeroEnd
			if i == 8 {
				break
			}
		} else if i > 0 {
			out[n] = ':'
			n++
		}
		// Leading zeros are dropped, but a group is at least one digit.
		digits := (bits.Len16(g[i]) + 3) / 4
		n += putHex16(out[n:], g[i], max(digits, 1))
	}
	return b[:len(b)+n]
}

// ipv6ZeroRuns holds, for each set of zero groups (bit i for group i), the
// first longest run of two or more of them as [start, end), or [8, 8] when
// there is none: the part RFC 5952 writes as "::".
var ipv6ZeroRuns = func() (t [256][2]uint8) {
	for zeros := range t {
		start, end := 8, 8
		for i := 0; i < 8; i++ {
			j := i
			for j < 8 && zeros&(1<<j) != 0 {
				j++
			}
			if j-i >= 2 && j-i > end-start {
				start, end = i, j
			}
			i = j
		}
		t[zeros] = [2]uint8{uint8(start), uint8(end)}
	}
	return t
}()

// putHex16 writes the last digits hex digits of v in lower case and returns
// their number. It always stores four bytes, the extra ones as scratch that
// the next group overwrites: group i starts at most at 5*i, so they fit.
func putHex16(dst []byte, v uint16, digits int) int {
	v <<= 4 * (4 - digits)
	dst[0], dst[1], dst[2], dst[3] = hexLower[v>>12], hexLower[v>>8&0xf], hexLower[v>>4&0xf], hexLower[v&0xf]
	return digits
}
