// Package nflogpcap reads NFLOG records from capture files of link type
// LINKTYPE_NFLOG (239), pcap or pcapng, as `tcpdump -i nflog:N -w` writes
// them, and turns each into a decode.Record with collector/nflogmsg.
package nflogpcap

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/nflog-agent/nflog-agent/collector/nflogmsg"
	"github.com/nflog-agent/nflog-agent/decode"
)

// LinkTypeNFLOG is LINKTYPE_NFLOG, the link type of `tcpdump -i nflog:N`
// captures.
const LinkTypeNFLOG layers.LinkType = 239

const (
	// bufSize bounds the run of trailing non-packet pcapng blocks that
	// atEnd can look through.
	bufSize = 64 << 10
	// maxSnaplen caps the snap lengths (of a pcap file, of a pcapng
	// interface) and the captured length of a pcapng record, and so the
	// buffers pcapgo allocates from them. An NFLOG message cannot reach it:
	// its payload attribute has a 16-bit length.
	maxSnaplen = 256 << 10
)

// Reader reads the NFLOG records of a pcap or pcapng capture.
type Reader struct {
	br    *bufio.Reader // pcapgo reads through it too
	src   packetSource
	ng    bool
	order binary.ByteOrder // of the capture file, and so of the TLV headers
	n     int              // records read so far
	done  bool
	msgs  nflogmsg.Parser
}

// packetSource is what pcapgo.Reader and pcapgo.NgReader have in common.
type packetSource interface {
	gopacket.ZeroCopyPacketDataSource
	LinkType() layers.LinkType
}

// Open reads the file header of a pcap or pcapng capture of link type
// LINKTYPE_NFLOG. The byte order of the TLV headers is taken from the file
// (for pcapng, from its first section).
func Open(r io.Reader) (*Reader, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(24) // a pcap file header; pcapng files are longer
	if len(head) < 24 {
		if err != io.EOF {
			return nil, err
		}
		return nil, fmt.Errorf("not a pcap or pcapng file: only %d bytes", len(head))
	}
	rd := &Reader{br: br, order: binary.LittleEndian}
	switch magic := binary.LittleEndian.Uint32(head); magic {
	case ngSectionHeader:
		rd.ng = true
		if binary.BigEndian.Uint32(head[8:]) == ngByteOrderMagic {
			rd.order = binary.BigEndian
		}
	case 0xa1b2c3d4, 0xa1b23c4d: // pcap, µs and ns timestamps
	case 0xd4c3b2a1, 0x4d3cb2a1: // the same, big-endian
		rd.order = binary.BigEndian
	default:
		return nil, fmt.Errorf("not a pcap or pcapng file: magic number %#08x", magic)
	}
	if rd.ng {
		// From here on pcapgo and atEnd read checked blocks only.
		rd.br = bufio.NewReaderSize(newNgFilter(br), bufSize)
	}
	linkType, found := rd.peekLinkType()
	if rd.ng {
		rd.src, err = pcapgo.NewNgReader(rd.br, pcapgo.DefaultNgReaderOptions)
	} else {
		rd.src, err = newPcapReader(br)
	}
	if err != nil {
		return nil, fmt.Errorf("capture file header: %w", err)
	}
	if !found {
		linkType = uint32(rd.src.LinkType())
	}
	if linkType != uint32(LinkTypeNFLOG) {
		return nil, fmt.Errorf("capture has link type %d, want %d (NFLOG, as tcpdump -i nflog:GROUP writes)", linkType, LinkTypeNFLOG)
	}
	return rd, nil
}

func newPcapReader(br *bufio.Reader) (*pcapgo.Reader, error) {
	p, err := pcapgo.NewReader(br)
	if err != nil {
		return nil, err
	}
	if s := p.Snaplen(); s == 0 || s > maxSnaplen {
		p.SetSnaplen(maxSnaplen)
	}
	return p, nil
}

// peekLinkType reads the link type from the pcap file header, or from the
// pcapng interface block if it follows the section header, since pcapgo keeps
// only its low 8 bits.
func (r *Reader) peekLinkType() (linkType uint32, found bool) {
	head, err := r.br.Peek(24)
	if err != nil {
		return 0, false // pcapgo reports what is wrong
	}
	if !r.ng {
		return r.order.Uint32(head[20:]) & 0x0fffffff, true // the high bits may give the FCS length
	}
	off := int(r.order.Uint32(head[4:])) // section header block length
	idb, err := r.br.Peek(off + 10)
	if err != nil || r.order.Uint32(idb[off:]) != ngInterface {
		return 0, false
	}
	return uint32(r.order.Uint16(idb[off+8:])), true
}

// Next reads the next record into rec, which it resets first; rec's byte
// slices stay valid until the following call. It returns io.EOF after the
// last record. An error naming the 1-based record number is either a record
// whose NFLOG message is malformed, after which Next goes on with the
// following records, or a damaged or truncated file, after which Next
// returns io.EOF.
func (r *Reader) Next(rec *decode.Record) error {
	*rec = decode.Record{}
	if r.done || r.atEnd() {
		r.done = true
		return io.EOF
	}
	r.n++
	data, ci, err := r.src.ZeroCopyReadPacketData()
	if err != nil {
		r.done = true // pcapgo cannot find the next record after a failure
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("record %d: capture file cut short", r.n)
		}
		return fmt.Errorf("record %d: %w", r.n, err)
	}
	if err := r.msgs.Parse(data, r.order, rec); err != nil {
		if ci.CaptureLength < ci.Length {
			return fmt.Errorf("record %d: %w (the capture kept %d of its %d bytes)", r.n, err, ci.CaptureLength, ci.Length)
		}
		return fmt.Errorf("record %d: %w", r.n, err)
	}
	rec.ReceivedAt = ci.Timestamp
	return nil
}

// atEnd reports whether no packet follows: the stream is at its end, or, in
// pcapng, only whole non-packet blocks remain (dumpcap ends its files with
// interface statistics). Anything else, a partial block included, is left to
// pcapgo so that a file cut short is reported as such.
func (r *Reader) atEnd() bool {
	for off := 0; ; {
		head, err := r.br.Peek(off + 8)
		if len(head) == off && err == io.EOF {
			return true
		}
		if !r.ng || len(head) < off+8 {
			return false
		}
		switch r.order.Uint32(head[off:]) {
		case 2, 3, 6: // packet, simple packet and enhanced packet blocks
			return false
		}
		n := int(r.order.Uint32(head[off+4:]))
		if n < 12 || n%4 != 0 {
			return false
		}
		if _, err := r.br.Peek(off + n); err != nil {
			return false
		}
		off += n
	}
}
