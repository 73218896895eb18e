package nflogpcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// pcapng block types.
const (
	ngInterface       = 1
	ngPacket          = 2 // obsolete, still read
	ngSimplePacket    = 3
	ngStatistics      = 5
	ngEnhancedPacket  = 6
	ngSectionHeader   = 0x0a0d0d0a // the same in either byte order
	ngByteOrderMagic  = 0x1a2b3c4d
	ngOptEndOfOptions = 0
)

const (
	// maxBlock bounds a pcapng block: a record of maxSnaplen bytes with its
	// headers and a few options.
	maxBlock = maxSnaplen + 4<<10
	// maxInterfaces bounds the interfaces of a section, which pcapgo keeps.
	maxInterfaces = 64
	// maxPacketOptions bounds the options of a packet block, from which
	// pcapgo builds lists.
	maxPacketOptions = 16
)

// ngFilter hands pcapgo a pcapng stream one whole, checked block at a time,
// with the interfaces' snap lengths capped, and drops the blocks the Reader
// has no use for (name resolution, decryption secrets, custom blocks).
// pcapgo sizes buffers and lists from the lengths it reads, and keeps some of
// them for the whole file: with every length checked against the bytes that
// are really there, no file makes it allocate more than a few times its size.
type ngFilter struct {
	src     io.Reader
	order   binary.ByteOrder // of the current section
	off     int64            // file offset of the next block
	block   []byte           // reused for each block
	pending []byte           // what is left of the current block
	ifaces  int              // interface blocks in the current section
	snaplen uint32           // of the section's first interface, capped
	err     error            // sticky: pcapgo cannot resynchronise
}

func newNgFilter(src io.Reader) *ngFilter {
	return &ngFilter{src: src, order: binary.LittleEndian}
}

func (f *ngFilter) Read(p []byte) (int, error) {
	for len(f.pending) == 0 {
		if f.err != nil {
			return 0, f.err
		}
		f.err = f.next()
	}
	n := copy(p, f.pending)
	f.pending = f.pending[n:]
	return n, nil
}

// next reads the following block into pending, or skips it. A block cut
// short gives io.ErrUnexpectedEOF, so that the Reader reports the file as
// cut short.
func (f *ngFilter) next() error {
	var head [12]byte
	if _, err := io.ReadFull(f.src, head[:8]); err != nil {
		return err // io.EOF between blocks: the end of the file
	}
	typ := f.order.Uint32(head[:])
	if typ == ngSectionHeader {
		if _, err := io.ReadFull(f.src, head[8:12]); err != nil {
			return cutShort(err)
		}
		switch uint32(ngByteOrderMagic) {
		case binary.LittleEndian.Uint32(head[8:]):
			f.order = binary.LittleEndian
		case binary.BigEndian.Uint32(head[8:]):
			f.order = binary.BigEndian
		default:
			return f.errorf(typ, "byte-order magic %#x", head[8:12])
		}
	}
	n := f.order.Uint32(head[4:])
	if n < 12 || n%4 != 0 || n > maxBlock {
		return f.errorf(typ, "length %d", n)
	}
	if cap(f.block) < int(n) {
		f.block = make([]byte, n)
	}
	b := f.block[:n]
	got := copy(b, head[:])
	if typ != ngSectionHeader {
		got = 8
	}
	if _, err := io.ReadFull(f.src, b[got:]); err != nil {
		return cutShort(err)
	}
	if end := f.order.Uint32(b[n-4:]); end != n {
		return f.errorf(typ, "length %d at its start, %d at its end", n, end)
	}
	keep, err := f.check(typ, b)
	if err != nil {
		return f.errorf(typ, "%v", err)
	}
	f.off += int64(n)
	if keep {
		f.pending = b
	}
	return nil
}

// check reports whether pcapgo needs block b of type typ, and whether it is
// sound: its fields within the block, its options whole.
func (f *ngFilter) check(typ uint32, b []byte) (keep bool, err error) {
	n := uint32(len(b))
	switch typ {
	case ngSectionHeader:
		if n < 28 {
			return false, errors.New("too short")
		}
		f.ifaces, f.snaplen = 0, 0
		return true, f.checkOptions(b[24:n-4], -1)
	case ngInterface:
		if n < 20 {
			return false, errors.New("too short")
		}
		if f.ifaces++; f.ifaces > maxInterfaces {
			return false, fmt.Errorf("more than %d interfaces in the section", maxInterfaces)
		}
		// pcapgo sizes its packet buffer from the snap length: capped as in
		// pcap files.
		if s := f.order.Uint32(b[12:]); s == 0 || s > maxSnaplen {
			f.order.PutUint32(b[12:], maxSnaplen)
		}
		if f.ifaces == 1 {
			f.snaplen = f.order.Uint32(b[12:])
		}
		return true, f.checkOptions(b[16:n-4], -1)
	case ngPacket, ngEnhancedPacket:
		if n < 32 {
			return false, errors.New("too short")
		}
		c := f.order.Uint32(b[20:])
		if c > maxSnaplen || c > n-32 {
			return false, fmt.Errorf("%d captured bytes in a %d-byte block", c, n)
		}
		return true, f.checkOptions(b[28+(c+3)&^3:n-4], maxPacketOptions)
	case ngSimplePacket:
		if n < 16 {
			return false, errors.New("too short")
		}
		// pcapgo reads the original length, cut to the snap length.
		if c := min(f.order.Uint32(b[8:]), f.snaplen); c > n-16 {
			return false, fmt.Errorf("%d captured bytes in a %d-byte block", c, n)
		}
		return true, nil
	case ngStatistics:
		if n < 24 {
			return false, errors.New("too short")
		}
		return true, f.checkOptions(b[20:n-4], -1)
	}
	return false, nil
}

// checkOptions checks that the options in b lie within it, and that there
// are no more than max of them (max < 0: any number).
func (f *ngFilter) checkOptions(b []byte, max int) error {
	for count := 0; len(b) >= 4; count++ {
		code, n := f.order.Uint16(b), int(f.order.Uint16(b[2:]))
		if code == ngOptEndOfOptions {
			return nil
		}
		if max >= 0 && count == max {
			return fmt.Errorf("more than %d options", max)
		}
		if 4+n > len(b) {
			return fmt.Errorf("option %d of %d bytes runs past the end of the block", code, n)
		}
		b = b[min(len(b), 4+(n+3)&^3):]
	}
	return nil
}

// cutShort is err from reading the rest of a block.
func cutShort(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (f *ngFilter) errorf(typ uint32, format string, args ...any) error {
	return fmt.Errorf("pcapng block of type %#x at byte %d: %s", typ, f.off, fmt.Sprintf(format, args...))
}
