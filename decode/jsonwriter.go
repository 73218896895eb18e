package decode

import (
	"encoding/binary"
	"slices"
	"strconv"
)

// The JSON helpers below append to a byte slice by hand: no reflection, no
// maps, no allocations once the buffer has grown. Keys are passed with their
// separator and quotes (`,"ttl":`), as the encoder knows where each member
// falls. Strings go through jsonstring, which the sinks use too.

// appendUintMember appends key and v as a JSON number. Single digits, which
// many header fields hold (codes, flags, zeros), are written without a call.
func appendUintMember(b []byte, key string, v uint64) []byte {
	b = append(b, key...)
	if v < 10 {
		return append(b, byte('0'+v))
	}
	return appendUint(b, v)
}

// appendUint8Member appends key and v as a JSON number, with appendUint8.
func appendUint8Member(b []byte, key string, v uint8) []byte {
	b = append(b, key...)
	return appendUint8(b, v)
}

// appendUintString appends key, which ends with the opening quote, and v as
// the rest of a JSON string: keyword fields holding numbers.
func appendUintString(b []byte, key string, v uint64) []byte {
	b = append(b, key...)
	b = appendUint(b, v)
	return append(b, '"')
}

// appendUint is strconv.AppendUint for the numbers that fill packet
// headers: up to four digits in one append; longer numbers, below 10^10,
// as groups of five digits each worked out in a word and stored at once,
// without loops whose trip count would change from one value to the next.
func appendUint(b []byte, v uint64) []byte {
	switch {
	case v < 10:
		return append(b, byte('0'+v))
	case v < 100:
		return append(b, digitPairs[2*v], digitPairs[2*v+1])
	case v < 1000:
		q, r := v/100, 2*(v%100)
		return append(b, byte('0'+q), digitPairs[r], digitPairs[r+1])
	case v < 10000:
		q, r := 2*(v/100), 2*(v%100)
		return append(b, digitPairs[q], digitPairs[q+1], digitPairs[r], digitPairs[r+1])
	case v < 100000:
		return appendDigits5(b, uint32(v), 5)
	case v < 1e10:
		hi, lo := uint32(v/100000), uint32(v%100000)
		n := 1 + int(boolByte(hi >= 10)+boolByte(hi >= 100)+boolByte(hi >= 1000)+boolByte(hi >= 10000))
		b = appendDigits5(b, hi, n)
		return appendDigits5(b, lo, 5)
	}
	return strconv.AppendUint(b, v, 10)
}

// appendDigits5 appends the last n of the five decimal digits of v <
// 100000, zero-padded. It stores eight bytes, the ones past the digits as
// scratch in the room made for them.
func appendDigits5(b []byte, v uint32, n int) []byte {
	hi, lo := v/100, v%100
	top, mid := hi/100, hi%100
	// The digits in memory order, the most significant first.
	w := uint64('0'+top) | uint64(digitPairs[2*mid])<<8 | uint64(digitPairs[2*mid+1])<<16 |
		uint64(digitPairs[2*lo])<<24 | uint64(digitPairs[2*lo+1])<<32
	b = slices.Grow(b, 8)
	binary.LittleEndian.PutUint64(b[len(b):len(b)+8], w>>(8*(5-n)))
	return b[:len(b)+n]
}

// appendUint8 appends v in decimal as one fixed-size copy from the octets
// table: no branch on the value, which changes from packet to packet.
func appendUint8(b []byte, v uint8) []byte {
	o := &octets[v]
	b = slices.Grow(b, len(o.text))
	*(*[len(o.text)]byte)(b[len(b) : len(b)+len(o.text)]) = o.text
	return b[:len(b)+o.n-1] // without the dot
}

const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"
