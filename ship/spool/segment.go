package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A segment file is named after the Seq of its first record, zero-padded so
// that names sort in order, and starts with a header: magic and the creation
// time, which gives the age of old backlogs after a restart.
const (
	segSuffix     = ".seg"
	segHeaderSize = 16
)

var segMagic = [8]byte{'N', 'F', 'L', 'S', 'P', 'L', 0, 1}

// segment is the in-memory view of one segment file.
type segment struct {
	start   uint64    // Seq of its first record
	size    int64     // valid bytes, header included
	created time.Time // from the header
}

func segName(start uint64) string { return fmt.Sprintf("%020d%s", start, segSuffix) }

func segHeader(created time.Time) []byte {
	b := append([]byte(nil), segMagic[:]...)
	return binary.LittleEndian.AppendUint64(b, uint64(created.UnixNano()))
}

// parseSegHeader returns the creation time, or false when b is not a header.
func parseSegHeader(b []byte) (time.Time, bool) {
	if len(b) < segHeaderSize || !bytes.Equal(b[:8], segMagic[:]) {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.LittleEndian.Uint64(b[8:]))), true
}

// listSegments returns the segments in dir in order, with their file sizes.
func listSegments(dir string) ([]*segment, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: list %s: %w", dir, err)
	}
	var segs []*segment
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, segSuffix) || !e.Type().IsRegular() {
			continue
		}
		start, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
		if err != nil {
			continue // not ours
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("spool: stat %s: %w", name, err)
		}
		segs = append(segs, &segment{start: start, size: info.Size()})
	}
	slices.SortFunc(segs, func(a, b *segment) int { return cmpUint(a.start, b.start) })
	return segs, nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// scanResult is what a full scan of a segment found.
type scanResult struct {
	created time.Time
	valid   int64  // bytes up to the end of the last good record
	records uint64 // good records
	// bad is true when something follows valid that is not a good record:
	// a torn or corrupt tail.
	bad bool
}

// scanSegment reads a whole segment and finds where its good records end. It
// reads in chunks, so a large segment does not need its size in memory.
func scanSegment(r io.Reader) (scanResult, error) {
	var res scanResult
	br := newChunkReader(r)
	hdr, err := br.next(segHeaderSize)
	if err != nil || len(hdr) < segHeaderSize {
		res.bad = len(hdr) > 0 || err != nil && !errors.Is(err, io.EOF)
		return res, ignoreEOF(err)
	}
	created, ok := parseSegHeader(hdr)
	if !ok {
		res.bad = true
		return res, nil
	}
	res.created, res.valid = created, segHeaderSize
	br.consume(segHeaderSize)
	for {
		b, err := br.next(frameHeader)
		if len(b) == 0 {
			return res, ignoreEOF(err)
		}
		_, n, rerr := readRecord(b)
		if errors.Is(rerr, errShort) && n > 0 {
			b, err = br.next(n)
			_, n, rerr = readRecord(b)
		}
		if rerr != nil {
			res.bad = true
			return res, ignoreEOF(err)
		}
		br.consume(n)
		res.valid += int64(n)
		res.records++
	}
}

func ignoreEOF(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	return err
}

// chunkReader hands out windows of at least n bytes of a stream (fewer at
// its end) without copying record by record.
type chunkReader struct {
	r   io.Reader
	buf []byte
	off int // start of unconsumed bytes in buf
	err error
}

func newChunkReader(r io.Reader) *chunkReader {
	return &chunkReader{r: r, buf: make([]byte, 0, 256<<10)}
}

// next returns the unconsumed bytes, reading until there are at least n or
// the stream ends; err is the read error that ended it early.
func (c *chunkReader) next(n int) ([]byte, error) {
	for len(c.buf)-c.off < n && c.err == nil {
		if c.off > 0 {
			c.buf = append(c.buf[:0], c.buf[c.off:]...)
			c.off = 0
		}
		if free := cap(c.buf) - len(c.buf); free < n-len(c.buf) || free < 32<<10 {
			c.buf = slices.Grow(c.buf, max(n, 32<<10))
		}
		m, err := c.r.Read(c.buf[len(c.buf):cap(c.buf)])
		c.buf = c.buf[:len(c.buf)+m]
		c.err = err
	}
	return c.buf[c.off:], c.err
}

func (c *chunkReader) consume(n int) { c.off += n }

func segPath(dir string, start uint64) string { return filepath.Join(dir, segName(start)) }
