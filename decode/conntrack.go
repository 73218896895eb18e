package decode

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Conntrack is the connection-tracking entry of a record's packet, as the
// kernel describes it in the nested CTA_* attributes of NFULA_CT and of
// ctnetlink messages (linux/netfilter/nfnetlink_conntrack.h). The zero value
// is "no entry".
type Conntrack struct {
	Present bool // the entry was attached to the record or found for it

	HasID, HasMark, HasZone, HasStatus, HasLabels bool

	ID     uint32   // CTA_ID: the entry's id, as `conntrack -L -o id` shows it
	Mark   uint32   // CTA_MARK
	Zone   uint16   // CTA_ZONE
	Status uint32   // CTA_STATUS: IPS_* bits (CtStatus*)
	Labels [16]byte // CTA_LABELS: a 128-bit set, bit i of byte i/8 from the low end

	Orig, Reply CtTuple // CTA_TUPLE_ORIG, CTA_TUPLE_REPLY
}

// CtTuple is one direction of a conntrack entry: addresses, protocol and
// its ports (or ICMP id, type and code).
type CtTuple struct {
	Src, Dst         netip.Addr
	Proto            uint8
	HasPorts         bool // TCP, UDP, SCTP, DCCP, UDP-Lite
	SrcPort, DstPort uint16
	HasICMP          bool // ICMP or ICMPv6
	ICMPID           uint16
	ICMPType         uint8
	ICMPCode         uint8
}

// Conntrack status bits (enum ip_conntrack_status) that the events name.
const (
	CtStatusExpected  uint32 = 1 << 0
	CtStatusSeenReply uint32 = 1 << 1
	CtStatusAssured   uint32 = 1 << 2
	CtStatusConfirmed uint32 = 1 << 3
	CtStatusSrcNAT    uint32 = 1 << 4
	CtStatusDstNAT    uint32 = 1 << 5
)

// Conntrack info values (enum ip_conntrack_info), as NFULA_CT_INFO carries
// them.
const (
	CtInfoEstablished      uint32 = 0
	CtInfoRelated          uint32 = 1
	CtInfoNew              uint32 = 2
	CtInfoEstablishedReply uint32 = 3
	CtInfoRelatedReply     uint32 = 4
	CtInfoUntracked        uint32 = 7
)

// CTA_* attribute types.
const (
	ctaTupleOrig  = 1
	ctaTupleReply = 2
	ctaStatus     = 3
	ctaMark       = 8
	ctaID         = 12
	ctaZone       = 18
	ctaLabels     = 22

	ctaTupleIP    = 1
	ctaTupleProto = 2

	ctaIPv4Src = 1
	ctaIPv4Dst = 2
	ctaIPv6Src = 3
	ctaIPv6Dst = 4

	ctaProtoNum      = 1
	ctaProtoSrcPort  = 2
	ctaProtoDstPort  = 3
	ctaProtoICMPID   = 4
	ctaProtoICMPType = 5
	ctaProtoICMPCode = 6
	ctaProtoICMP6ID  = 7
	ctaProtoICMP6Typ = 8
	ctaProtoICMP6Cod = 9

	// nlaTypeMask drops NLA_F_NESTED and NLA_F_NET_BYTEORDER.
	nlaTypeMask = 0x3fff
)

// ParseConntrack reads the CTA_* attributes of one conntrack entry into ct,
// which it resets first. The attribute headers are in order (the host's
// byte order for a live socket, the writer's for a capture); the values are
// big-endian, as the kernel sends them. Unknown attributes are skipped. It
// does not allocate unless it fails.
func ParseConntrack(b []byte, order binary.ByteOrder, ct *Conntrack) error {
	*ct = Conntrack{}
	err := walkAttrs(b, order, func(typ uint16, v []byte) error {
		var err error
		switch typ {
		case ctaTupleOrig:
			err = parseTuple(v, order, &ct.Orig)
		case ctaTupleReply:
			err = parseTuple(v, order, &ct.Reply)
		case ctaStatus:
			ct.Status, err = ctBE32(v, "CTA_STATUS")
			ct.HasStatus = err == nil
		case ctaMark:
			ct.Mark, err = ctBE32(v, "CTA_MARK")
			ct.HasMark = err == nil
		case ctaID:
			ct.ID, err = ctBE32(v, "CTA_ID")
			ct.HasID = err == nil
		case ctaZone:
			if len(v) != 2 {
				return fmt.Errorf("CTA_ZONE: %d bytes, want 2", len(v))
			}
			ct.Zone, ct.HasZone = binary.BigEndian.Uint16(v), true
		case ctaLabels:
			// The kernel sends as many 32-bit words as it has; 16 bytes
			// today. More would be labels this format cannot name.
			if len(v) == 0 || len(v) > len(ct.Labels) || len(v)%4 != 0 {
				return fmt.Errorf("CTA_LABELS: %d bytes, want 4 to 16 in 4-byte words", len(v))
			}
			copy(ct.Labels[:], v)
			ct.HasLabels = true
		}
		return err
	})
	if err != nil {
		*ct = Conntrack{}
		return fmt.Errorf("conntrack attributes: %w", err)
	}
	ct.Present = true
	return nil
}

// parseTuple reads a nested CTA_TUPLE_*.
func parseTuple(b []byte, order binary.ByteOrder, t *CtTuple) error {
	return walkAttrs(b, order, func(typ uint16, v []byte) error {
		switch typ {
		case ctaTupleIP:
			return walkAttrs(v, order, func(typ uint16, v []byte) error {
				switch typ {
				case ctaIPv4Src, ctaIPv4Dst:
					if len(v) != 4 {
						return fmt.Errorf("CTA_IP_V4 address: %d bytes, want 4", len(v))
					}
					a := netip.AddrFrom4([4]byte(v))
					if typ == ctaIPv4Src {
						t.Src = a
					} else {
						t.Dst = a
					}
				case ctaIPv6Src, ctaIPv6Dst:
					if len(v) != 16 {
						return fmt.Errorf("CTA_IP_V6 address: %d bytes, want 16", len(v))
					}
					a := netip.AddrFrom16([16]byte(v))
					if typ == ctaIPv6Src {
						t.Src = a
					} else {
						t.Dst = a
					}
				}
				return nil
			})
		case ctaTupleProto:
			return walkAttrs(v, order, func(typ uint16, v []byte) error {
				var err error
				switch typ {
				case ctaProtoNum:
					t.Proto, err = ctU8(v, "CTA_PROTO_NUM")
				case ctaProtoSrcPort:
					t.SrcPort, err = ctBE16(v, "CTA_PROTO_SRC_PORT")
					t.HasPorts = err == nil
				case ctaProtoDstPort:
					t.DstPort, err = ctBE16(v, "CTA_PROTO_DST_PORT")
					t.HasPorts = err == nil
				case ctaProtoICMPID, ctaProtoICMP6ID:
					t.ICMPID, err = ctBE16(v, "CTA_PROTO_ICMP_ID")
					t.HasICMP = err == nil
				case ctaProtoICMPType, ctaProtoICMP6Typ:
					t.ICMPType, err = ctU8(v, "CTA_PROTO_ICMP_TYPE")
				case ctaProtoICMPCode, ctaProtoICMP6Cod:
					t.ICMPCode, err = ctU8(v, "CTA_PROTO_ICMP_CODE")
				}
				return err
			})
		}
		return nil
	})
}

// walkAttrs calls fn for each netlink attribute of b, with its type stripped
// of the nested and byte-order flags. The last attribute's padding may be
// missing.
func walkAttrs(b []byte, order binary.ByteOrder, fn func(typ uint16, v []byte) error) error {
	for off := 0; off < len(b); {
		left := len(b) - off
		if left < 4 {
			return fmt.Errorf("attribute at offset %d: %d bytes left, too few for a header", off, left)
		}
		n := int(order.Uint16(b[off:]))
		typ := order.Uint16(b[off+2:]) & nlaTypeMask
		if n < 4 || n > left {
			return fmt.Errorf("attribute at offset %d (type %d): length %d does not fit the %d bytes left", off, typ, n, left)
		}
		if err := fn(typ, b[off+4:off+n:off+n]); err != nil {
			return err
		}
		off += min((n+3)&^3, left)
	}
	return nil
}

func ctU8(v []byte, name string) (uint8, error) {
	if len(v) != 1 {
		return 0, fmt.Errorf("%s: %d bytes, want 1", name, len(v))
	}
	return v[0], nil
}

func ctBE16(v []byte, name string) (uint16, error) {
	if len(v) != 2 {
		return 0, fmt.Errorf("%s: %d bytes, want 2", name, len(v))
	}
	return binary.BigEndian.Uint16(v), nil
}

func ctBE32(v []byte, name string) (uint32, error) {
	if len(v) != 4 {
		return 0, fmt.Errorf("%s: %d bytes, want 4", name, len(v))
	}
	return binary.BigEndian.Uint32(v), nil
}

// SourceNAT returns the connection's source after SNAT — the reply tuple's
// destination — when the entry has SNAT.
func (ct *Conntrack) SourceNAT() (netip.Addr, uint16, bool) {
	if !ct.Present || ct.Status&CtStatusSrcNAT == 0 || !ct.Reply.Dst.IsValid() {
		return netip.Addr{}, 0, false
	}
	return ct.Reply.Dst, ct.Reply.DstPort, true
}

// DestinationNAT returns the connection's destination after DNAT — the
// reply tuple's source — when the entry has DNAT.
func (ct *Conntrack) DestinationNAT() (netip.Addr, uint16, bool) {
	if !ct.Present || ct.Status&CtStatusDstNAT == 0 || !ct.Reply.Src.IsValid() {
		return netip.Addr{}, 0, false
	}
	return ct.Reply.Src, ct.Reply.SrcPort, true
}

// ctStatusNames names the status bits in the order they are written.
var ctStatusNames = [...]struct {
	bit  uint32
	json string
}{
	{CtStatusExpected, `,"expected"`},
	{CtStatusSeenReply, `,"seen_reply"`},
	{CtStatusAssured, `,"assured"`},
	{CtStatusConfirmed, `,"confirmed"`},
	{CtStatusSrcNAT, `,"snat"`},
	{CtStatusDstNAT, `,"dnat"`},
}

// ctStates names enum ip_conntrack_info; 7 is IP_CT_UNTRACKED.
var ctStates = [...]string{"established", "related", "new", "established_reply", "related_reply", "", "", "untracked"}

// appendConntrack writes netfilter.ct: the state and direction from
// NFULA_CT_INFO, and the entry.
func appendConntrack(b []byte, r *Record) []byte {
	state := ""
	if r.HasCtInfo && int(r.CtInfo) < len(ctStates) {
		state = ctStates[r.CtInfo]
	}
	ct := &r.Ct
	if state == "" && !ct.Present {
		return b
	}
	b = append(b, `,"ct":{`...)
	sep := 1 // skip the comma before the first member
	if state != "" {
		b = append(b, `,"state":"`[sep:]...)
		b = append(b, state...)
		switch r.CtInfo {
		case CtInfoEstablished, CtInfoRelated, CtInfoNew:
			b = append(b, `","direction":"original"`...)
		case CtInfoEstablishedReply, CtInfoRelatedReply:
			b = append(b, `","direction":"reply"`...)
		default:
			b = append(b, '"')
		}
		sep = 0
	}
	if ct.HasID {
		b = appendUintMember(b, `,"id":`[sep:], uint64(ct.ID))
		sep = 0
	}
	if ct.HasMark && ct.Mark != 0 { // as netfilter.mark; events carry a zero mark only when it changed
		b = appendUintMember(b, `,"mark":`[sep:], uint64(ct.Mark))
		sep = 0
	}
	if ct.HasZone {
		b = appendUintMember(b, `,"zone":`[sep:], uint64(ct.Zone))
		sep = 0
	}
	if ct.HasStatus {
		b = append(b, `,"status":[`[sep:]...)
		first := 1
		for _, s := range ctStatusNames {
			if ct.Status&s.bit != 0 {
				b = append(b, s.json[first:]...)
				first = 0
			}
		}
		b = append(b, ']')
		sep = 0
	}
	if ct.HasLabels {
		b = append(b, `,"labels":[`[sep:]...)
		first := 1
		for i := range 8 * len(ct.Labels) {
			if ct.Labels[i/8]&(1<<(i%8)) != 0 {
				b = appendUintMember(b, ","[first:], uint64(i))
				first = 0
			}
		}
		b = append(b, ']')
		sep = 0
	}
	if ct.Orig.Src.IsValid() {
		b = appendCtTuple(b, `,"original":`[sep:], &ct.Orig)
		sep = 0
	}
	if ct.Reply.Src.IsValid() {
		b = appendCtTuple(b, `,"reply":`[sep:], &ct.Reply)
	}
	return append(b, '}')
}

// appendCtTuple writes key and a tuple as {source:{ip,port},destination:{…}}.
func appendCtTuple(b []byte, key string, t *CtTuple) []byte {
	b = append(b, key...)
	b = appendNATEndpoint(b, `{"source":{"ip":`, t.Src, t.SrcPort, t.HasPorts)
	b = appendNATEndpoint(b, `},"destination":{"ip":`, t.Dst, t.DstPort, t.HasPorts)
	return append(b, '}', '}')
}

// appendNATEndpoint writes head, the quoted address and, when hasPort, the
// port member, leaving the object open.
func appendNATEndpoint(b []byte, head string, a netip.Addr, port uint16, hasPort bool) []byte {
	b = append(b, head...)
	b = appendJSONNetipAddr(b, a)
	if hasPort {
		b = appendUintMember(b, `,"port":`, uint64(port))
	}
	return b
}

// appendJSONNetipAddr writes a as a quoted string, like appendJSONAddr.
func appendJSONNetipAddr(b []byte, a netip.Addr) []byte {
	if a.Is4() {
		v := a.As4()
		return appendJSONAddr(b, v[:])
	}
	v := a.As16()
	return appendJSONAddr(b, v[:])
}
