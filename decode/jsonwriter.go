package decode

import (
	"strconv"
	"unicode/utf8"
)

// jsonWriter appends a JSON document by hand: no reflection, no maps, no
// allocations once its buffer has grown. Objects are opened lazily, so an
// object none of whose members is written leaves no trace.
type jsonWriter struct {
	b       []byte
	depth   int
	members [8]int    // members written so far at each depth
	pending [8]string // keys of objects opened but not yet written
}

// open starts an object under key k; it appears only once a member is written.
func (j *jsonWriter) open(k string) {
	j.depth++
	j.members[j.depth] = 0
	j.pending[j.depth] = k
}

// close ends the innermost object.
func (j *jsonWriter) close() {
	if j.pending[j.depth] == "" {
		j.b = append(j.b, '}')
	}
	j.pending[j.depth] = ""
	j.depth--
}

// key writes the separator and "k": of the next member, and the openings of
// any pending parent objects.
func (j *jsonWriter) key(k string) {
	if j.pending[j.depth] != "" {
		j.flushPending()
	}
	j.member(j.depth, k)
}

// flushPending writes the openings of the objects opened but not written.
func (j *jsonWriter) flushPending() {
	first := j.depth
	for first > 0 && j.pending[first] != "" {
		first--
	}
	for d := first + 1; d <= j.depth; d++ {
		j.member(d-1, j.pending[d])
		j.b = append(j.b, '{')
		j.pending[d] = ""
	}
}

func (j *jsonWriter) member(depth int, k string) {
	if j.members[depth] > 0 {
		j.b = append(j.b, ',', '"')
	} else {
		j.b = append(j.b, '"')
	}
	j.members[depth]++
	j.b = append(j.b, k...)
	j.b = append(j.b, '"', ':')
}

func (j *jsonWriter) str(k, v string) {
	j.key(k)
	j.b = appendJSONString(j.b, v)
}

// lit writes a string value that needs no escaping (constants, base64).
func (j *jsonWriter) lit(k string, v string) {
	j.key(k)
	j.b = append(j.b, '"')
	j.b = append(j.b, v...)
	j.b = append(j.b, '"')
}

// chunk writes constant, already encoded members ("k":v,"k2":v2…) as one
// append: the hot path's fixed parts cost one copy instead of a call each.
func (j *jsonWriter) chunk(members string) {
	if j.pending[j.depth] != "" {
		j.flushPending()
	}
	if j.members[j.depth] > 0 {
		j.b = append(j.b, ',')
	}
	j.members[j.depth]++
	j.b = append(j.b, members...)
}

// raw writes an already encoded JSON value.
func (j *jsonWriter) raw(k string, v []byte) {
	j.key(k)
	j.b = append(j.b, v...)
}

func (j *jsonWriter) uint(k string, v uint64) {
	j.key(k)
	j.b = appendUint(j.b, v)
}

// uintString writes v as a JSON string, for keyword fields holding numbers.
func (j *jsonWriter) uintString(k string, v uint64) {
	j.key(k)
	j.b = append(j.b, '"')
	j.b = appendUint(j.b, v)
	j.b = append(j.b, '"')
}

// appendUint is strconv.AppendUint with shortcuts for the numbers of up to
// five digits that fill packet headers.
func appendUint(b []byte, v uint64) []byte {
	switch {
	case v < 10:
		return append(b, byte('0'+v))
	case v < 100:
		return append(b, digitPairs[2*v], digitPairs[2*v+1])
	case v < 100000:
		var tmp [5]byte
		i := len(tmp)
		for v >= 100 {
			q := v / 100
			r := (v - q*100) * 2
			i -= 2
			tmp[i], tmp[i+1] = digitPairs[r], digitPairs[r+1]
			v = q
		}
		if v >= 10 {
			i -= 2
			tmp[i], tmp[i+1] = digitPairs[2*v], digitPairs[2*v+1]
		} else {
			i--
			tmp[i] = byte('0' + v)
		}
		return append(b, tmp[i:]...)
	}
	return strconv.AppendUint(b, v, 10)
}

const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// jsonSafe marks the bytes that stand for themselves inside a JSON string.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// isJSONSafe reports whether s can be written between quotes as it is.
func isJSONSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if !jsonSafe[s[i]] {
			return false
		}
	}
	return true
}

// appendJSONString appends s as a JSON string. Control characters are
// escaped and invalid UTF-8 becomes U+FFFD, as encoding/json does, so any
// prefix or interface name yields valid JSON.
func appendJSONString[T string | []byte](b []byte, s T) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if jsonSafe[c] {
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

func decodeRune[T string | []byte](s T) (rune, int) {
	var buf [utf8.UTFMax]byte
	n := copy(buf[:], s)
	return utf8.DecodeRune(buf[:n])
}
