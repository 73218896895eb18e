// Package decode turns one NFLOG record into the kernel's own log line and the
// ECS event a SIEM would build from it. It is pure: no I/O, no globals, no
// goroutines, and no allocations on the hot path.
package decode

import "time"

// Protocol families as carried in the nfgenmsg header of an NFLOG message
// (NFPROTO_*).
const (
	FamilyUnspec uint8 = 0
	FamilyIPv4   uint8 = 2
	FamilyARP    uint8 = 3
	FamilyBridge uint8 = 7
	FamilyIPv6   uint8 = 10
)

// Netfilter hooks (NF_INET_*), as carried in NFULA_PACKET_HDR.
const (
	HookPrerouting  uint8 = 0
	HookInput       uint8 = 1
	HookForward     uint8 = 2
	HookOutput      uint8 = 3
	HookPostrouting uint8 = 4
)

// Record is everything one NFLOG message can carry, as plain values. Interface
// indexes are 0 when absent (the kernel never uses index 0); the Has* flags
// mark the numeric attributes for which 0 is a valid value. Byte slices are
// nil when the attribute was absent. A Record holds no netlink types, so the
// collector, the pcap replay and tests all build it the same way.
type Record struct {
	Group  uint16 // NFLOG group the message arrived on
	Family uint8  // nfgenmsg family (FamilyIPv4, FamilyIPv6, …); 0 when unknown

	HasHook    bool
	Hook       uint8  // NF_INET_* hook
	HwProtocol uint16 // skb->protocol, host order (0x0800, 0x86dd, …)

	Prefix string // NFULA_PREFIX without its NUL; "" when the rule has none

	InDev, OutDev, PhysInDev, PhysOutDev uint32 // ifindexes, 0 = absent
	// Names resolved for the indexes above by whoever built the Record.
	InName, OutName, PhysInName, PhysOutName string

	HasHwType bool
	HwType    uint16 // dev->type (ARPHRD_*): 1 = Ethernet
	HwLen     uint16 // dev->hard_header_len
	HwHeader  []byte // the hard header (dst MAC, src MAC, ethertype for Ethernet)
	HwAddr    []byte // source hardware address

	Mark uint32 // skb->mark; the kernel only sends it when non-zero

	HasUID, HasGID bool
	UID, GID       uint32 // socket owner of locally generated traffic

	HasSeq, HasSeqGlobal bool
	Seq                  uint32 // per-group sequence number
	SeqGlobal            uint32 // per-netns sequence number shared by all groups

	Timestamp  time.Time // kernel timestamp (NFULA_TIMESTAMP); zero when absent
	ReceivedAt time.Time // when the agent read the message; fallback for @timestamp

	HasCtInfo bool
	CtInfo    uint32    // enum ip_conntrack_info (CtInfo*)
	Ct        Conntrack // the packet's conntrack entry: NFULA_CT, or looked up over ctnetlink

	// NFULA_VLAN: the VLAN tag the skb carries outside its data (bridge and
	// netdev families only).
	HasVLAN   bool
	VLANProto uint16 // 0x8100 (802.1Q) or 0x88a8 (802.1ad)
	VLANTCI   uint16 // priority, DEI and the 12-bit VLAN id
	L2Header  []byte // NFULA_L2HDR: the MAC header of a bridged frame, tags included

	Payload []byte // the network-layer packet, cut at the snap length
}

// IsIPv6 reports whether the payload is to be read as IPv6: from the message
// family when known, else from skb->protocol, else from the version nibble.
func (r *Record) IsIPv6() bool {
	switch r.Family {
	case FamilyIPv4:
		return false
	case FamilyIPv6:
		return true
	}
	switch r.HwProtocol {
	case 0x0800:
		return false
	case 0x86dd:
		return true
	}
	return len(r.Payload) > 0 && r.Payload[0]>>4 == 6
}
