package decode

import "encoding/binary"

// VLAN tag protocol identifiers.
const (
	tpid8021Q  = 0x8100
	tpid8021AD = 0x88a8
)

// macHeader is what a record's Ethernet MAC header tells: the addresses,
// the ethertype right after them, and up to two VLAN tags (outer first).
type macHeader struct {
	src, dst  []byte
	hard      bool // read from the hard header, which the kernel line prints
	etherType uint16
	vlans     [2]uint16
	nvlans    int
}

// parse reads an Ethernet header of 14 bytes, or of 18 or 22 bytes when it
// carries one or two 802.1Q/802.1ad tags, into m. Any other length, or tags
// that do not fill the length exactly, is not read: parse reports false and
// m is to be ignored. It fills m in place, as the encoder keeps it per
// event.
func (m *macHeader) parse(h []byte) bool {
	if len(h) != 14 && len(h) != 18 && len(h) != 22 {
		return false
	}
	m.dst, m.src, m.etherType, m.nvlans = h[0:6], h[6:12], binary.BigEndian.Uint16(h[12:14]), 0
	for off := 12; off+4 < len(h); off += 4 {
		if tpid := binary.BigEndian.Uint16(h[off:]); tpid != tpid8021Q && tpid != tpid8021AD {
			return false
		}
		m.vlans[m.nvlans] = binary.BigEndian.Uint16(h[off+2:]) & 0xfff
		m.nvlans++
	}
	return true
}

// parseRecord reads the record's MAC header into m: the hard header of an
// Ethernet device, else the bridge's L2 header.
func (m *macHeader) parseRecord(r *Record) bool {
	m.hard = m.parse(r.HwHeader)
	return m.hard || m.parse(r.L2Header)
}

// vlanIDs returns the outer and inner VLAN ids (-1 when absent). A tag
// NFULA_VLAN reports was taken off the frame before the header was
// captured, so it is the outer one and a tag in the header is inside it.
func vlanIDs(r *Record, m *macHeader, hasMAC bool) (outer, inner int) {
	outer, inner = -1, -1
	var tags []uint16
	if hasMAC {
		tags = m.vlans[:m.nvlans]
	}
	if r.HasVLAN {
		outer = int(r.VLANTCI & 0xfff)
		if len(tags) > 0 {
			inner = int(tags[0])
		}
		return outer, inner
	}
	if len(tags) > 0 {
		outer = int(tags[0])
	}
	if len(tags) > 1 {
		inner = int(tags[1])
	}
	return outer, inner
}

// appendVLAN writes network.vlan and network.inner.vlan into the open
// network object; sep is the separator before the first member.
func appendVLAN(b []byte, sep string, outer, inner int) []byte {
	if outer >= 0 {
		b = append(b, sep...)
		b = appendUintString(b, `"vlan":{"id":"`, uint64(outer))
		b = append(b, '}')
		sep = ","
	}
	if inner >= 0 {
		b = append(b, sep...)
		b = appendUintString(b, `"inner":{"vlan":{"id":"`, uint64(inner))
		b = append(b, '}', '}')
	}
	return b
}
