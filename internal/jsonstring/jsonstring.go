// Package jsonstring writes strings as JSON string literals, by hand: no
// reflection and no allocation once the buffer has grown. The encoder's hot
// path and the sinks' request bodies share it, so every string the agent
// writes into JSON is escaped one way.
package jsonstring

import "unicode/utf8"

const hexLower = "0123456789abcdef"

// verbatim marks the bytes that stand for themselves inside a JSON string.
var verbatim = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// Verbatim reports whether s can be written between quotes as it is: it is
// printable ASCII without quotes or backslashes.
func Verbatim(s string) bool {
	for i := 0; i < len(s); i++ {
		if !verbatim[s[i]] {
			return false
		}
	}
	return true
}

// Append appends s to b as a JSON string, quotes included. Control
// characters are escaped and invalid UTF-8 becomes U+FFFD, as encoding/json
// does, so any input yields valid JSON; unlike encoding/json, <, > and & are
// written as they are (the output is never embedded in HTML).
func Append[T string | []byte](b []byte, s T) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if verbatim[c] {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexLower[c>>4], hexLower[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := decodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// decodeRune is utf8.DecodeRune for either type, without converting (and
// so allocating) the whole rest of s.
func decodeRune[T string | []byte](s T) (rune, int) {
	var buf [utf8.UTFMax]byte
	n := copy(buf[:], s)
	return utf8.DecodeRune(buf[:n])
}
