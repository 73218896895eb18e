package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"testing"
	"time"
)

// FuzzSpoolRead writes arbitrary bytes as the records of a sealed segment and
// of the last segment, then opens the spool and reads everything. Whatever
// the bytes, Open must succeed, reading must end, every event returned must
// be one whose record is in the bytes (nothing invented), and the spool must
// still take and return a new event.
func FuzzSpoolRead(f *testing.F) {
	var valid []byte
	for i := range 5 {
		ev := testEvent(i)
		valid = appendRecord(valid, &ev)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-5])
	f.Add(append(append([]byte(nil), valid...), make([]byte, 100)...))
	flipped := append([]byte(nil), valid...)
	flipped[30] ^= 1
	f.Add(flipped)
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Add(appendRecord(nil, &Event{}))

	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		hdr := segHeader(time.Unix(1, 0))
		body := append(append([]byte(nil), hdr...), data...)
		// The sealed segment claims 1000 events; the last one starts there.
		if err := os.WriteFile(segPath(dir, 0), body, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(segPath(dir, 1000), body, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, Options{Sync: SyncNone})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		r, err := s.Reader("f")
		if err != nil {
			t.Fatal(err)
		}
		var evs []Event
		for range 10000 {
			n := len(evs)
			evs, _, err = r.Read(evs, 64, 1<<20)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if len(evs) == n {
				break
			}
		}
		for _, ev := range evs {
			if !bytes.Contains(data, appendRecord(nil, &ev)) {
				t.Fatalf("read an event that is not in the file: %+v", ev)
			}
		}
		marker := Event{ID: []byte("marker"), JSON: []byte("{}")}
		if err := s.Append(marker); err != nil {
			t.Fatalf("Append after recovery: %v", err)
		}
		evs, _, err = r.Read(evs[:0], 1<<20, 1<<30)
		if err != nil || len(evs) == 0 || string(evs[len(evs)-1].ID) != "marker" {
			t.Fatalf("the appended event did not come back last: %d events, %v", len(evs), err)
		}
	})
}

// TestRecordRoundTrip checks the record codec on edge values.
func TestRecordRoundTrip(t *testing.T) {
	for _, ev := range []Event{
		{},
		{ID: []byte("x")},
		{Time: time.Unix(0, 0).UTC(), JSON: []byte("{}")},
		{Time: time.Date(1900, 1, 1, 0, 0, 0, 1, time.UTC), Message: bytes.Repeat([]byte("m"), 300)},
		testEvent(7),
		testEvent(8), // its line in its document
	} {
		b := appendRecord(nil, &ev)
		if len(b) != recordSize(&ev) {
			t.Fatalf("recordSize %d, wrote %d", recordSize(&ev), len(b))
		}
		got, n, err := readRecord(b)
		if err != nil || n != len(b) {
			t.Fatalf("readRecord: %d, %v", n, err)
		}
		if !bytes.Equal(appendRecord(nil, &got), b) || !got.Time.Equal(ev.Time) || got.Time.IsZero() != ev.Time.IsZero() {
			t.Fatalf("round trip of %+v gave %+v", ev, got)
		}
	}
}

// A line that is a part of the document is stored once, as where it is
// there; a reference outside the document is corruption.
func TestRecordStoresTheLineOnce(t *testing.T) {
	ev := testEvent(8)
	inline := ev
	inline.MessageAt = 0
	if saved := recordSize(&inline) - recordSize(&ev); saved < len(ev.Message)-4 {
		t.Fatalf("the record of an event whose line is in its document is %d bytes smaller, want about %d", saved, len(ev.Message))
	}
	got, _, err := readRecord(appendRecord(nil, &ev))
	if err != nil || got.MessageAt != ev.MessageAt || !bytes.Equal(got.Message, ev.Message) {
		t.Fatalf("read back MessageAt %d, Message %q, %v", got.MessageAt, got.Message, err)
	}
	if got.Message = append(got.Message, 'x'); bytes.Contains(got.JSON, []byte("x")) {
		t.Fatal("appending to the Message read back overwrote its document")
	}

	doc := []byte(`{"message":"x"}`)
	for _, ref := range [][2]uint64{{0, 1}, {16, 0}, {12, 4}, {1 << 62, 1}, {12, 1 << 62}} {
		payload := binary.LittleEndian.AppendUint64(nil, 0) // time: the epoch
		payload = append(payload, 0)                        // no ID
		payload = binary.AppendUvarint(payload, maxPayload+1+ref[0])
		payload = binary.AppendUvarint(payload, ref[1])
		payload = append(payload, doc...)
		frame := binary.LittleEndian.AppendUint32(nil, uint32(len(payload)))
		frame = binary.LittleEndian.AppendUint32(frame, crc32.Checksum(payload, castagnoli))
		if _, _, err := readRecord(append(frame, payload...)); !errors.Is(err, errCorrupt) {
			t.Errorf("line at %d+%d of a %d-byte document: %v, want corrupt", ref[0], ref[1], len(doc), err)
		}
	}
}

// FuzzCursor feeds arbitrary bytes as a cursor file: decoding never
// panics, and whatever slot it trusts is one that was written whole.
func FuzzCursor(f *testing.F) {
	good := make([]byte, cursorSlot+cursorSlotSize)
	copy(good, encodeSlot(3, Position{Seq: 10, seg: 8, off: 300}))
	copy(good[cursorSlot:], encodeSlot(2, Position{Seq: 5, seg: 0, off: 120}))
	f.Add(good)
	f.Add(good[:cursorSlotSize])
	f.Add(good[:100])
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		gen, p, ok := decodeCursor(b)
		if !ok {
			return
		}
		slot := encodeSlot(gen, p)
		if !bytes.HasPrefix(b, slot) && !(len(b) > cursorSlot && bytes.HasPrefix(b[cursorSlot:], slot)) {
			t.Fatalf("trusted generation %d, position %+v, which no slot holds", gen, p)
		}
	})
}
