package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
)

// A cursor file holds one sink's committed Position in two slots, at
// offsets 0 and cursorSlot:
//
//	magic (8) | generation u64 | Seq u64 | segment u64 | offset i64 | CRC32C of the 40 bytes before
//
// A save overwrites the older slot in place with the next generation; a
// load takes the valid slot of the higher generation. A save torn by a
// crash leaves the other slot, the previous position, intact. Overwriting
// bytes already allocated needs no free space, so positions are saved even
// on a full disk, and that is what lets a full spool free what its sinks
// delivered. The file itself is created whole under a temporary name and
// renamed into place.
const (
	cursorSlotSize = 44
	cursorSlot     = 512 // offset of the second slot: another disk sector than the first
)

var cursorMagic = [8]byte{'N', 'F', 'L', 'C', 'U', 'R', 0, 2}

// sinkName restricts names to what is safe in a file name.
var sinkName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

func validName(name string) error {
	if !sinkName.MatchString(name) {
		return fmt.Errorf("spool: sink name %q: want 1-64 letters, digits, '_', '.' or '-'", name)
	}
	return nil
}

const cursorPrefix = "cursor-"

func cursorPath(dir, name string) string { return filepath.Join(dir, cursorPrefix+name) }

func encodeSlot(gen uint64, p Position) []byte {
	b := append(make([]byte, 0, cursorSlotSize), cursorMagic[:]...)
	b = binary.LittleEndian.AppendUint64(b, gen)
	b = binary.LittleEndian.AppendUint64(b, p.Seq)
	b = binary.LittleEndian.AppendUint64(b, p.seg)
	b = binary.LittleEndian.AppendUint64(b, uint64(p.off))
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeSlot(b []byte) (gen uint64, p Position, ok bool) {
	if len(b) < cursorSlotSize || !bytes.Equal(b[:8], cursorMagic[:]) ||
		crc32.Checksum(b[:40], castagnoli) != binary.LittleEndian.Uint32(b[40:]) {
		return 0, Position{}, false
	}
	return binary.LittleEndian.Uint64(b[8:]), Position{
		Seq: binary.LittleEndian.Uint64(b[16:]),
		seg: binary.LittleEndian.Uint64(b[24:]),
		off: int64(binary.LittleEndian.Uint64(b[32:])),
	}, true
}

// decodeCursor returns the position of the newest valid slot in b, the
// contents of a cursor file.
func decodeCursor(b []byte) (gen uint64, p Position, ok bool) {
	for _, off := range []int{0, cursorSlot} {
		if off >= len(b) {
			break
		}
		if g, q, valid := decodeSlot(b[off:]); valid && (!ok || g > gen) {
			gen, p, ok = g, q, true
		}
	}
	return gen, p, ok
}

// errBadCursor marks a cursor file that exists but cannot be trusted.
var errBadCursor = errors.New("spool: corrupt cursor file")

// cursorFile is an open cursor file.
type cursorFile struct {
	f   *os.File
	gen uint64 // generation of the newest slot
}

// close closes the file; c may be nil.
func (c *cursorFile) close() {
	if c != nil {
		c.f.Close()
	}
}

// openCursor opens the cursor file of name and returns its position; it
// returns a nil file when there is none (a new sink).
func openCursor(dir, name string) (*cursorFile, Position, error) {
	f, err := os.OpenFile(cursorPath(dir, name), os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, Position{}, nil
	}
	if err != nil {
		return nil, Position{}, fmt.Errorf("spool: open cursor of %s: %w", name, err)
	}
	b := make([]byte, cursorSlot+cursorSlotSize)
	n, err := f.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, Position{}, fmt.Errorf("spool: read cursor of %s: %w", name, err)
	}
	gen, p, ok := decodeCursor(b[:n])
	if !ok {
		f.Close()
		return nil, Position{}, fmt.Errorf("%w of %s", errBadCursor, name)
	}
	return &cursorFile{f: f, gen: gen}, p, nil
}

// createCursor writes a new cursor file for name holding p, replacing any
// unreadable one.
func (s *Spool) createCursor(name string, p Position) (*cursorFile, error) {
	path := cursorPath(s.dir, name)
	tmp := path + ".tmp"
	// Generation g lives in slot g%2: both slots hold p, the newest is 1.
	b := make([]byte, cursorSlot+cursorSlotSize)
	copy(b, encodeSlot(0, p))
	copy(b[cursorSlot:], encodeSlot(1, p))
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: create cursor of %s: %w", name, diskErr(err))
	}
	_, err = f.Write(b)
	err = s.after("cursor.create", err)
	if err == nil && s.durable() {
		err = s.after("cursor.sync", f.Sync())
	}
	if err == nil {
		err = s.after("cursor.rename", os.Rename(tmp, path))
	}
	if err == nil && s.durable() {
		err = s.after("dir.sync", syncDir(s.dir))
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("spool: create cursor of %s: %w", name, diskErr(err))
	}
	return &cursorFile{f: f, gen: 1}, nil
}

// saveCursor overwrites the older slot of c with p.
func (s *Spool) saveCursor(c *cursorFile, p Position) error {
	gen := c.gen + 1
	_, err := c.f.WriteAt(encodeSlot(gen, p), int64(gen%2)*cursorSlot)
	err = s.after("cursor.write", err)
	if err == nil && s.durable() {
		err = s.after("cursor.sync", syscall.Fdatasync(int(c.f.Fd())))
	}
	if err != nil {
		return fmt.Errorf("spool: save cursor: %w", diskErr(err))
	}
	c.gen = gen
	return nil
}

// maxCursorSeq returns the highest Seq the cursor files in dir hold: where
// numbering resumes when no segment file is left.
func maxCursorSeq(dir string) uint64 {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var seq uint64
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), cursorPrefix) {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
			if _, p, ok := decodeCursor(b); ok {
				seq = max(seq, p.Seq)
			}
		}
	}
	return seq
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
