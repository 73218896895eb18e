package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"regexp"
)

// A cursor file holds one sink's committed Position:
//
//	magic (8) | Seq u64 | segment u64 | offset i64 | CRC32C of the 32 bytes before
//
// It is replaced atomically (write a temporary file, fsync, rename, fsync the
// directory), so after a crash it is either the old position or the new one.
const cursorSize = 36

var cursorMagic = [8]byte{'N', 'F', 'L', 'C', 'U', 'R', 0, 1}

// sinkName restricts names to what is safe in a file name.
var sinkName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

func validName(name string) error {
	if !sinkName.MatchString(name) {
		return fmt.Errorf("spool: sink name %q: want 1-64 letters, digits, '_', '.' or '-'", name)
	}
	return nil
}

func cursorPath(dir, name string) string { return filepath.Join(dir, "cursor-"+name) }

func encodeCursor(p Position) []byte {
	b := append([]byte(nil), cursorMagic[:]...)
	b = binary.LittleEndian.AppendUint64(b, p.Seq)
	b = binary.LittleEndian.AppendUint64(b, p.seg)
	b = binary.LittleEndian.AppendUint64(b, uint64(p.off))
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// errBadCursor marks a cursor file that exists but cannot be trusted.
var errBadCursor = errors.New("spool: corrupt cursor file")

func decodeCursor(b []byte) (Position, error) {
	if len(b) != cursorSize || !bytes.Equal(b[:8], cursorMagic[:]) ||
		crc32.Checksum(b[:32], castagnoli) != binary.LittleEndian.Uint32(b[32:]) {
		return Position{}, errBadCursor
	}
	return Position{
		Seq: binary.LittleEndian.Uint64(b[8:]),
		seg: binary.LittleEndian.Uint64(b[16:]),
		off: int64(binary.LittleEndian.Uint64(b[24:])),
	}, nil
}

// loadCursor returns the saved position; ok is false when there is none.
func loadCursor(dir, name string) (p Position, ok bool, err error) {
	b, err := os.ReadFile(cursorPath(dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return Position{}, false, nil
	}
	if err != nil {
		return Position{}, false, fmt.Errorf("spool: read cursor of %s: %w", name, err)
	}
	p, err = decodeCursor(b)
	if err != nil {
		return Position{}, false, fmt.Errorf("%w of %s", err, name)
	}
	return p, true, nil
}

// saveCursor replaces the cursor file of name with p; with durable set it
// survives a power loss too, not only a crash of the agent.
func saveCursor(dir, name string, p Position, durable bool) error {
	path := cursorPath(dir, name)
	tmp := path + ".tmp"
	if err := writeFile(tmp, encodeCursor(p), durable); err != nil {
		return fmt.Errorf("spool: save cursor of %s: %w", name, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("spool: save cursor of %s: %w", name, err)
	}
	if !durable {
		return nil
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("spool: save cursor of %s: %w", name, err)
	}
	return nil
}

func writeFile(path string, b []byte, durable bool) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
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
