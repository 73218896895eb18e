package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"time"
)

// A record on disk is a frame:
//
//	u32 LE payload length | u32 LE CRC32C(payload) | payload
//
// and the payload is
//
//	i64 LE Unix nanoseconds (math.MinInt64: no time) |
//	uvarint len(ID) | ID | message | JSON
//
// where the message is stored in one of two ways: in full, or, when it is
// a part of the JSON document (Event.MessageAt), as where it is there,
// which saves writing, reading and checksumming the line twice:
//
//	uvarint len(Message) | Message          (a length ≤ maxPayload)
//	uvarint maxPayload+1+MessageAt | uvarint len(Message)
//
// The length comes first so a reader knows how much to read; the checksum
// covers the payload only, so a torn length is caught by the bound check or
// by the checksum of whatever it points to.
const (
	frameHeader = 8
	// maxPayload bounds one record: a length above it is corruption, not a
	// reason to allocate gigabytes.
	maxPayload = 64 << 20
	noTime     = math.MinInt64
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt marks a record that fails its length bound, checksum or layout.
var errCorrupt = errors.New("spool: corrupt record")

// errShort marks a frame that continues past the bytes available: a torn
// tail, or more to read.
var errShort = errors.New("spool: short record")

// appendRecord appends the frame of ev to dst.
func appendRecord(dst []byte, ev *Event) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, frameHeader)...)
	t := int64(noTime)
	if !ev.Time.IsZero() {
		t = ev.Time.UnixNano()
	}
	dst = binary.LittleEndian.AppendUint64(dst, uint64(t))
	dst = binary.AppendUvarint(dst, uint64(len(ev.ID)))
	dst = append(dst, ev.ID...)
	if ev.messageInJSON() {
		dst = binary.AppendUvarint(dst, maxPayload+1+uint64(ev.MessageAt))
		dst = binary.AppendUvarint(dst, uint64(len(ev.Message)))
	} else {
		dst = binary.AppendUvarint(dst, uint64(len(ev.Message)))
		dst = append(dst, ev.Message...)
	}
	dst = append(dst, ev.JSON...)
	payload := dst[start+frameHeader:]
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(payload, castagnoli))
	return dst
}

// recordSize is the size of the frame appendRecord writes for ev.
func recordSize(ev *Event) int {
	n := frameHeader + 8 + uvarintLen(len(ev.ID)) + len(ev.ID) + len(ev.JSON)
	if ev.messageInJSON() {
		return n + uvarintLen(maxPayload+1+ev.MessageAt) + uvarintLen(len(ev.Message))
	}
	return n + uvarintLen(len(ev.Message)) + len(ev.Message)
}

func uvarintLen(n int) int {
	l := 1
	for ; n >= 0x80; n >>= 7 {
		l++
	}
	return l
}

// readRecord decodes the frame at the start of b. It returns the event, whose
// slices alias b, and the frame length. errShort means b ends inside the
// frame; n is then the frame length when the header was readable, else 0.
func readRecord(b []byte) (ev Event, n int, err error) {
	if len(b) < frameHeader {
		return Event{}, 0, errShort
	}
	plen := binary.LittleEndian.Uint32(b)
	if plen > maxPayload || plen < 10 {
		return Event{}, 0, fmt.Errorf("%w: payload length %d", errCorrupt, plen)
	}
	n = frameHeader + int(plen)
	if len(b) < n {
		return Event{}, n, errShort
	}
	payload := b[frameHeader:n]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return Event{}, 0, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	ev, err = decodePayload(payload)
	if err != nil {
		return Event{}, 0, err
	}
	return ev, n, nil
}

func decodePayload(p []byte) (Event, error) {
	var ev Event
	if t := int64(binary.LittleEndian.Uint64(p)); t != noTime {
		ev.Time = time.Unix(0, t).UTC()
	}
	p = p[8:]
	id, p, ok := lengthPrefixed(p)
	if !ok {
		return Event{}, fmt.Errorf("%w: bad id length", errCorrupt)
	}
	l, n := binary.Uvarint(p)
	if n <= 0 {
		return Event{}, fmt.Errorf("%w: bad message length", errCorrupt)
	}
	if l > maxPayload {
		return messageInJSON(ev, id, l-maxPayload-1, p[n:])
	}
	msg, p, ok := lengthPrefixed(p)
	if !ok {
		return Event{}, fmt.Errorf("%w: bad message length", errCorrupt)
	}
	// Full slice expressions: a caller appending to one field must not
	// overwrite the next.
	ev.ID, ev.Message, ev.JSON = id[:len(id):len(id)], msg[:len(msg):len(msg)], p[:len(p):len(p)]
	return ev, nil
}

// messageInJSON completes ev from a payload whose message is the part of
// the JSON document at offset at: p holds the message length, then the
// document.
func messageInJSON(ev Event, id []byte, at uint64, p []byte) (Event, error) {
	l, n := binary.Uvarint(p)
	if n <= 0 {
		return Event{}, fmt.Errorf("%w: bad message length", errCorrupt)
	}
	doc := p[n:]
	if at == 0 || at > uint64(len(doc)) || l > uint64(len(doc))-at {
		return Event{}, fmt.Errorf("%w: message at %d+%d outside a %d-byte document", errCorrupt, at, l, len(doc))
	}
	end := int(at + l)
	ev.ID, ev.JSON = id[:len(id):len(id)], doc[:len(doc):len(doc)]
	ev.Message, ev.MessageAt = doc[at:end:end], int(at)
	return ev, nil
}

func lengthPrefixed(p []byte) (field, rest []byte, ok bool) {
	l, n := binary.Uvarint(p)
	if n <= 0 || l > uint64(len(p)-n) {
		return nil, nil, false
	}
	end := n + int(l)
	return p[n:end], p[end:], true
}
