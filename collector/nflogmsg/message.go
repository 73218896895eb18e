// Package nflogmsg parses NFLOG messages, the payload of the kernel's
// netlink NFULNL_MSG_PACKET messages, into decode.Records. A LINKTYPE_NFLOG
// (239) capture holds these messages as they were read, so the collector's
// sockets and the capture reader share this parser.
package nflogmsg

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/nflog-agent/nflog-agent/decode"
)

// NFLOG attribute types (NFULA_* in linux/netfilter/nfnetlink_log.h).
// Unknown types are skipped.
const (
	attrPacketHdr  = 1
	attrMark       = 2
	attrTimestamp  = 3
	attrInDev      = 4
	attrOutDev     = 5
	attrPhysInDev  = 6
	attrPhysOutDev = 7
	attrHwAddr     = 8
	attrPayload    = 9
	attrPrefix     = 10
	attrUID        = 11
	attrSeq        = 12
	attrSeqGlobal  = 13
	attrGID        = 14
	attrHwType     = 15
	attrHwHeader   = 16
	attrHwLen      = 17
	attrCt         = 18
	attrCtInfo     = 19
	attrVLAN       = 20
	attrL2Hdr      = 21

	// NFULA_VLAN_* attributes nested in NFULA_VLAN.
	attrVLANProto = 1
	attrVLANTCI   = 2

	// attrTypeMask drops NLA_F_NESTED and NLA_F_NET_BYTEORDER.
	attrTypeMask = 0x3fff
)

// Parser parses NFLOG messages, and hands out the same string for every
// message with the same prefix instead of allocating one per message: a
// firewall logs with a handful of prefixes. The zero value is ready to use.
// It is not safe for concurrent use.
type Parser struct {
	prefixes map[string]string
}

// maxPrefixes bounds the cache: a rule set that keeps changing its prefixes
// (a counter in the prefix, say) empties it rather than growing it.
const maxPrefixes = 1024

// Parse parses one NFLOG message (a LINKTYPE_NFLOG packet) into rec, which
// it resets first. The message is a 4-byte header (family, version 0, group
// in network byte order) followed by TLVs whose length and type fields are
// in order, the byte order of the host that wrote it; the values themselves
// are in network byte order, each padded to 4 bytes. The byte slices of rec
// alias data. On error rec holds the attributes read before the faulty one.
func (p *Parser) Parse(data []byte, order binary.ByteOrder, rec *decode.Record) error {
	*rec = decode.Record{}
	if len(data) < 4 {
		return fmt.Errorf("nflog header: message is %d bytes, want at least 4", len(data))
	}
	if data[1] != 0 {
		return fmt.Errorf("nflog header: version %d, want 0", data[1])
	}
	rec.Family = data[0]
	rec.Group = binary.BigEndian.Uint16(data[2:4])
	for off := 4; off < len(data); {
		left := len(data) - off
		if left < 4 {
			return fmt.Errorf("nflog tlv at offset %d: %d bytes left, too few for a 4-byte tlv header", off, left)
		}
		n := int(order.Uint16(data[off:]))
		typ := order.Uint16(data[off+2:]) & attrTypeMask
		switch {
		case n < 4:
			return fmt.Errorf("nflog tlv at offset %d (type %d): length %d is shorter than the 4-byte tlv header", off, typ, n)
		case n > left:
			return fmt.Errorf("nflog tlv at offset %d (type %d): length %d runs past the end of the %d-byte message", off, typ, n, len(data))
		}
		if err := p.parseAttr(typ, data[off+4:off+n:off+n], order, rec); err != nil {
			return fmt.Errorf("nflog tlv at offset %d: %w", off, err)
		}
		off += min((n+3)&^3, left) // the last attribute's padding may be missing
	}
	return nil
}

// parseAttr stores the value v of one attribute of type typ in rec.
func (p *Parser) parseAttr(typ uint16, v []byte, order binary.ByteOrder, rec *decode.Record) error {
	var err error
	switch typ {
	case attrPacketHdr:
		if err = checkSize(v, 4, "PACKET_HDR"); err == nil {
			rec.HwProtocol = binary.BigEndian.Uint16(v)
			rec.HasHook, rec.Hook = true, v[2]
		}
	case attrMark:
		rec.Mark, err = be32(v, "MARK")
	case attrTimestamp:
		if err = checkSize(v, 16, "TIMESTAMP"); err == nil {
			sec := int64(binary.BigEndian.Uint64(v))
			usec := int64(binary.BigEndian.Uint64(v[8:]))
			rec.Timestamp = time.Unix(sec, usec*1000).UTC()
		}
	case attrInDev:
		rec.InDev, err = be32(v, "IFINDEX_INDEV")
	case attrOutDev:
		rec.OutDev, err = be32(v, "IFINDEX_OUTDEV")
	case attrPhysInDev:
		rec.PhysInDev, err = be32(v, "IFINDEX_PHYSINDEV")
	case attrPhysOutDev:
		rec.PhysOutDev, err = be32(v, "IFINDEX_PHYSOUTDEV")
	case attrHwAddr:
		// struct nfulnl_msg_packet_hw: hw_addrlen be16, pad u16, hw_addr[8].
		if err = checkSize(v, 12, "HWADDR"); err == nil {
			n := binary.BigEndian.Uint16(v)
			if n > 8 {
				return fmt.Errorf("NFULA_HWADDR: address length %d exceeds 8", n)
			}
			rec.HwAddr = v[4 : 4+n : 4+n]
		}
	case attrPayload:
		rec.Payload = v
	case attrPrefix:
		if i := bytes.IndexByte(v, 0); i >= 0 {
			v = v[:i]
		}
		rec.Prefix = p.prefix(v)
	case attrUID:
		rec.UID, err = be32(v, "UID")
		rec.HasUID = err == nil
	case attrSeq:
		rec.Seq, err = be32(v, "SEQ")
		rec.HasSeq = err == nil
	case attrSeqGlobal:
		rec.SeqGlobal, err = be32(v, "SEQ_GLOBAL")
		rec.HasSeqGlobal = err == nil
	case attrGID:
		rec.GID, err = be32(v, "GID")
		rec.HasGID = err == nil
	case attrHwType:
		rec.HwType, err = be16(v, "HWTYPE")
		rec.HasHwType = err == nil
	case attrHwHeader:
		rec.HwHeader = v
	case attrHwLen:
		rec.HwLen, err = be16(v, "HWLEN")
	case attrCt:
		err = decode.ParseConntrack(v, order, &rec.Ct)
	case attrCtInfo:
		rec.CtInfo, err = be32(v, "CT_INFO")
		rec.HasCtInfo = err == nil
	case attrVLAN:
		err = parseVLAN(v, order, rec)
	case attrL2Hdr:
		rec.L2Header = v
	}
	return err
}

// parseVLAN reads the nested NFULA_VLAN: protocol and TCI, big-endian
// values behind headers in order.
func parseVLAN(v []byte, order binary.ByteOrder, rec *decode.Record) error {
	for off := 0; off+4 <= len(v); {
		n := int(order.Uint16(v[off:]))
		typ := order.Uint16(v[off+2:]) & attrTypeMask
		if n < 4 || n > len(v)-off {
			return fmt.Errorf("NFULA_VLAN: nested attribute at offset %d has length %d", off, n)
		}
		val := v[off+4 : off+n]
		var err error
		switch typ {
		case attrVLANProto:
			rec.VLANProto, err = be16(val, "VLAN_PROTO")
		case attrVLANTCI:
			rec.VLANTCI, err = be16(val, "VLAN_TCI")
			rec.HasVLAN = err == nil
		}
		if err != nil {
			return err
		}
		off += (n + 3) &^ 3
	}
	return nil
}

// prefix returns v as a string, from the cache.
func (p *Parser) prefix(v []byte) string {
	if s, ok := p.prefixes[string(v)]; ok {
		return s
	}
	if p.prefixes == nil || len(p.prefixes) >= maxPrefixes {
		p.prefixes = make(map[string]string)
	}
	s := string(v)
	p.prefixes[s] = s
	return s
}

func checkSize(v []byte, size int, name string) error {
	if len(v) != size {
		return fmt.Errorf("NFULA_%s: value is %d bytes, want %d", name, len(v), size)
	}
	return nil
}

func be16(v []byte, name string) (uint16, error) {
	if err := checkSize(v, 2, name); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint16(v), nil
}

func be32(v []byte, name string) (uint32, error) {
	if err := checkSize(v, 4, name); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(v), nil
}
