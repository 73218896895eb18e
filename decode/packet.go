package decode

// IPv4 fragment flag bits as packet.fragFlags holds them (frag_off >> 13).
const (
	fragMF uint8 = 1 << iota
	fragDF
	fragCE
)

// packet holds the outer packet's fields that the ECS event needs, gathered
// while the kernel line is written so the packet is walked once. Byte slices
// point into the Record's payload.
type packet struct {
	version    uint8 // 4 or 6; 0 when the IP header was unreadable
	src, dst   []byte
	length     uint32 // the kernel's LEN=
	tos, prec  uint8  // IPv4 TOS and precedence bits as printed; IPv6 traffic class in tos
	ttl        uint8  // TTL or hop limit
	id         uint16 // IPv4 identification
	flowLabel  uint32
	fragFlags  uint8  // fragMF|fragDF|fragCE
	fragOffset uint32 // as printed: 8-byte units for IPv4, bytes for IPv6
	fragment   bool   // not the first fragment: no transport header
	hasProto   bool
	proto      uint8 // transport protocol, after any IPv6 extension headers

	hasPorts     bool
	sport, dport uint16

	hasTCP   bool
	tcpFlags uint16 // AE (0x100) and CWR…FIN (0xff)
	tcpRes   uint8  // RES= as printed
	window   uint16
	seq, ack uint32

	hasUDP bool
	udpLen uint16

	hasICMP            bool
	icmpType, icmpCode uint8
	hasEcho            bool
	echoID, echoSeq    uint16
	hasParameter       bool
	parameter          uint8
	gateway            []byte // ICMP redirect gateway

	hasIncomplete bool
	incomplete    uint32

	// Where the line holds the text of the MAC header's source and
	// destination addresses, as offsets from its start; 0 when it does not.
	srcMACAt, dstMACAt int
}
