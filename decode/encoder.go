package decode

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/nflog-agent/nflog-agent/internal/jsonstring"
	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// ecsVersion is the ECS version the events conform to.
const ecsVersion = "8.17.0"

// Encoder turns Records into Events, reusing its buffers so that the steady
// state allocates nothing. It is not safe for concurrent use: give each
// goroutine its own.
//
// The JSON is written straight through rather than through a generic
// writer: in each branch it is known which member comes first, so keys are
// constants that carry their separator (`,"ttl":`) and runs of constant
// members go out as one append. On this path the cost is the number of
// appends, not the bytes, and the branches that depend on the packet: short
// texts whose length changes from one event to the next (addresses, members
// picked from tables) are copied as fixed-size arrays, and one-byte fields
// are formatted from a table, so that neither branches on the value.
type Encoder struct {
	opts     Options
	line     []byte
	json     []byte
	observer string // `,"observer":{` and its constant members, encoded once
	hostKey  uint64 // identifies the host in event ids
	count    uint64 // events encoded, part of the event id
	id       fixedText
	pk       packet
	mac      macHeader // the record's MAC header, read once per event
	hasMAC   bool
	// Whether the record's interface names need no JSON escaping.
	namesVerbatim bool
	srcAddr       fixedText // quoted source address, written three times
	dstAddr       fixedText
	lastPrefix    prefixFields
	// `{"@timestamp":"` and the date and time to the second of the last
	// event: events come in bursts within the same second.
	lastSecond     int64
	lastSecondText []byte
}

// NewEncoder returns an Encoder with the given options.
func NewEncoder(opts Options) *Encoder {
	e := &Encoder{opts: opts}
	e.observer = `,"observer":{`
	if opts.Hostname != "" {
		e.observer += `"hostname":` + string(jsonstring.Append(nil, opts.Hostname)) + ","
	}
	e.observer += `"type":"firewall","vendor":"Linux","product":"Netfilter"`
	sum := sha256.Sum256([]byte(opts.Hostname))
	e.hostKey = binary.BigEndian.Uint64(sum[:8])
	return e
}

// Encode decodes r into the event the spool stores: its ECS document (one
// line, no trailing newline), its event.id (a stable dedupe key derived from
// the record), its @timestamp (zero when the record carries no time) and its
// kernel log line. The byte slices belong to the Encoder and stay valid only
// until its next Encode call; copy what you keep. Malformed or truncated
// packets still give an event whose message says what the kernel would print
// (TRUNCATED, INCOMPLETE [N bytes]).
func (e *Encoder) Encode(r *Record) spool.Event {
	pk := &e.pk
	ev := spool.Event{Time: r.Timestamp, ID: e.eventID(r)}
	if ev.Time.IsZero() {
		ev.Time = r.ReceivedAt
	}
	p := e.prefixInfo(r.Prefix)
	e.hasMAC = e.mac.parseRecord(r)

	var b []byte
	if ev.Time.IsZero() {
		b = append(e.json[:0], `{"message":`...)
	} else {
		b = e.appendTimestamp(e.json[:0], ev.Time)
		b = append(b, `,"message":`...)
	}
	// The event's head opens with the quote that closes the message, which
	// jsonstring.Append writes itself.
	var head string
	e.namesVerbatim = namesAreJSONSafe(r)
	if p.safe && e.namesVerbatim {
		// Everything but the prefix and the names is the kernel's ASCII:
		// the line is written in place, and Message is a view of it
		// capped so that appending to it cannot overwrite the document.
		b = append(b, '"')
		start := len(b)
		b = appendKernelLine(b, r, e.opts.Flags, pk)
		ev.Message, ev.MessageAt = b[start:len(b):len(b)], start
		head = eventHeads[boolByte(pk.version != 0)][p.verdict]
	} else {
		e.line = appendKernelLine(e.line[:0], r, e.opts.Flags, pk)
		ev.Message = e.line
		b = jsonstring.Append(b, e.line)
		head = eventHeads[boolByte(pk.version != 0)][p.verdict][1:]
	}
	line := ev.Message
	b = append(b, head...)
	b = e.id.appendTo(b)
	if r.HasSeq {
		b = append(b, `","sequence":`...)
		b = appendUint(b, uint64(r.Seq))
	} else {
		b = append(b, '"')
	}
	b = append(b, p.members...)
	b = e.appendInterface(b, `,"ingress":{"interface":{"name":`, r.InName)
	b = e.appendInterface(b, `,"egress":{"interface":{"name":`, r.OutName)
	b = append(b, '}')
	b = e.appendEndpoints(b, r, line)
	b = e.appendNetwork(b, r)
	if r.HasUID {
		b = appendUintString(b, `,"user":{"id":"`, uint64(r.UID))
		b = append(b, '}')
	}
	if r.HasGID {
		b = appendUintString(b, `,"group":{"id":"`, uint64(r.GID))
		b = append(b, '}')
	}
	b = e.appendIptables(b, r)
	b = appendNetfilter(b, r)
	b = append(b, '}')
	e.json = b
	ev.JSON = b
	return ev
}

// eventHeads holds, by [has IP header][verdict], everything from the end of
// the message to the value of event.id: the ecs object and the constant
// members of event, whose type depends on the two indexes.
var eventHeads = func() (t [2][3]string) {
	for ip := range t {
		for v := range t[ip] {
			var types []string
			if ip == 1 {
				types = append(types, `"connection"`)
			}
			switch verdict(v) {
			case verdictAllowed:
				types = append(types, `"allowed"`)
			case verdictDenied:
				types = append(types, `"denied"`)
			}
			s := `","ecs":{"version":"` + ecsVersion + `"},"event":{"kind":"event","category":["network"]`
			if types != nil {
				s += `,"type":[` + strings.Join(types, ",") + `]`
			}
			t[ip][v] = s + `,"module":"netfilter","dataset":"netfilter.log","id":"`
		}
	}
	return t
}()

// prefixFields is what a prefix gives the event.
type prefixFields struct {
	prefix  string
	safe    bool // the prefix needs no JSON escaping
	verdict verdict
	// members closes event after its id and sequence (event.action and
	// event.outcome when the prefix yields an action), then writes the
	// action and rule objects when there are, and the constant members of
	// observer, leaving it open.
	members []byte
}

// prefixInfo derives the prefix's fields, once per run of records with the
// same prefix: a group's records mostly share a few prefixes.
func (e *Encoder) prefixInfo(prefix string) *prefixFields {
	p := &e.lastPrefix
	if prefix == p.prefix && p.members != nil {
		return p
	}
	action := e.opts.Actions[prefix]
	if action == "" {
		action = actionFromPrefix(prefix)
	}
	p.prefix, p.safe, p.verdict = prefix, jsonstring.Verbatim(prefix), verdictOf(action)
	m := p.members[:0]
	if action != "" {
		m = append(m, `,"action":`...)
		start := len(m)
		m = appendJSONLower(m, action)
		quoted := m[start:]
		m = append(m, `,"outcome":"success"},"action":{"name":`...)
		m = append(m, quoted...)
		m = append(m, `,"outcome":"success"}`...)
	} else {
		m = append(m, '}')
	}
	if name := strings.TrimSpace(prefix); name != "" {
		m = append(m, `,"rule":{"name":`...)
		m = jsonstring.Append(m, name)
		m = append(m, '}')
	}
	p.members = append(m, e.observer...)
	return p
}

// appendInterface writes observer.ingress or observer.egress; key opens both
// objects up to the name.
func (e *Encoder) appendInterface(b []byte, key, name string) []byte {
	if name == "" {
		return b
	}
	b = append(b, key...)
	b = e.appendName(b, name)
	return append(b, '}', '}')
}

// appendName writes an interface name as a JSON string. The names are
// checked once per event: most need no escaping and are then copied between
// quotes without being scanned again.
func (e *Encoder) appendName(b []byte, name string) []byte {
	if !e.namesVerbatim {
		return jsonstring.Append(b, name)
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"')
}

// appendEndpoints writes source.*, destination.* and related.ip. The
// endpoints are the packet's own; the NAT members are the connection's
// translated source and destination, from its conntrack entry.
func (e *Encoder) appendEndpoints(b []byte, r *Record, line []byte) []byte {
	pk := &e.pk
	var srcMAC, dstMAC macText
	if e.hasMAC {
		srcMAC = macText{e.mac.src, e.macInLine(line, pk.srcMACAt)}
		dstMAC = macText{e.mac.dst, e.macInLine(line, pk.dstMACAt)}
	}
	if pk.version == 0 {
		// Without an IP header only the MACs are known, if at all.
		if e.hasMAC {
			b = e.appendMACMember(b, `,"source":{"mac":"`, srcMAC)
			b = e.appendMACMember(b, `"},"destination":{"mac":"`, dstMAC)
			b = append(b, '"', '}')
		}
		return b
	}
	e.srcAddr.n = len(appendJSONAddr(e.srcAddr.text[:0], pk.src))
	e.dstAddr.n = len(appendJSONAddr(e.dstAddr.text[:0], pk.dst))
	snat, snatPort, hasSNAT := r.Ct.SourceNAT()
	dnat, dnatPort, hasDNAT := r.Ct.DestinationNAT()
	b = e.appendEndpoint(b, `,"source":{"ip":`, &e.srcAddr, pk.sport, srcMAC)
	b = appendUintMember(b, `,"bytes":`, uint64(pk.length))
	if hasSNAT {
		b = appendNATEndpoint(b, `,"nat":{"ip":`, snat, snatPort, r.Ct.Reply.HasPorts)
		b = append(b, '}')
	}
	b = e.appendEndpoint(b, `},"destination":{"ip":`, &e.dstAddr, pk.dport, dstMAC)
	if hasDNAT {
		b = appendNATEndpoint(b, `,"nat":{"ip":`, dnat, dnatPort, r.Ct.Reply.HasPorts)
		b = append(b, '}')
	}
	b = append(b, `},"related":{"ip":[`...)
	b = e.srcAddr.appendTo(b)
	if string(pk.src) != string(pk.dst) {
		b = append(b, ',')
		b = e.dstAddr.appendTo(b)
	}
	if hasSNAT && !sameAddr(snat, pk.src) && !sameAddr(snat, pk.dst) {
		b = append(b, ',')
		b = appendJSONNetipAddr(b, snat)
	}
	if hasDNAT && !sameAddr(dnat, pk.src) && !sameAddr(dnat, pk.dst) && (!hasSNAT || dnat != snat) {
		b = append(b, ',')
		b = appendJSONNetipAddr(b, dnat)
	}
	return append(b, ']', '}')
}

// sameAddr reports whether a is the 4- or 16-byte address p.
func sameAddr(a netip.Addr, p []byte) bool {
	if a.Is4() {
		v := a.As4()
		return string(v[:]) == string(p)
	}
	v := a.As16()
	return string(v[:]) == string(p)
}

// appendEndpoint writes the members of source or destination that have an
// IP header; head opens the object up to the value of ip, addr is quoted.
// The object is left open.
func (e *Encoder) appendEndpoint(b []byte, head string, addr *fixedText, port uint16, mac macText) []byte {
	b = append(b, head...)
	b = addr.appendTo(b)
	b = append(b, `,"address":`...)
	b = addr.appendTo(b)
	if e.pk.hasPorts {
		b = appendUintMember(b, `,"port":`, uint64(port))
	}
	if e.hasMAC {
		b = e.appendMACMember(b, `,"mac":"`, mac)
		b = append(b, '"')
	}
	return b
}

// macText is a MAC address of the record's MAC header, and its text in the
// kernel line when the event can copy it from there.
type macText struct {
	addr   []byte
	inLine []byte
}

// macInLine returns the text at offset at of the kernel line when it is a
// MAC address of the event's MAC header written as the event writes it
// (the line always uses colon style), or nil.
func (e *Encoder) macInLine(line []byte, at int) []byte {
	if at == 0 || !e.mac.hard || e.opts.MAC != MACColon || at+macTextLen > len(line) {
		return nil
	}
	return line[at : at+macTextLen]
}

// appendMACMember writes key, which ends with the opening quote, and mac in
// the configured style.
func (e *Encoder) appendMACMember(b []byte, key string, mac macText) []byte {
	b = append(b, key...)
	switch {
	case mac.inLine != nil:
		return append(b, mac.inLine...)
	case e.opts.MAC == MACRFC7042:
		return appendMAC(b, mac.addr, '-', true)
	}
	return appendMAC(b, mac.addr, ':', false)
}

// appendNetwork writes network.*: the VLAN ids, and what the IP header
// tells.
func (e *Encoder) appendNetwork(b []byte, r *Record) []byte {
	pk := &e.pk
	outer, inner := vlanIDs(r, &e.mac, e.hasMAC)
	switch pk.version {
	case 0:
		if outer < 0 {
			return b
		}
		b = append(b, `,"network":{`...)
		b = appendVLAN(b, "", outer, inner)
		return append(b, '}')
	case 4:
		b = append(b, `,"network":{"type":"ipv4"`...)
	default:
		b = append(b, `,"network":{"type":"ipv6"`...)
	}
	if pk.hasProto {
		b = transportMembers[pk.proto].appendTo(b)
		if k, ok := pk.flowKey(); ok {
			// The member is taken back when there is no ID after all.
			const key = `,"community_id":"`
			b = append(b, key...)
			if id := appendCommunityID(b, 0, k); len(id) > len(b) {
				b = append(id, '"')
			} else {
				b = b[:len(b)-len(key)]
			}
		}
	}
	b = appendVLAN(b, ",", outer, inner)
	return append(b, '}')
}

// namesAreJSONSafe reports whether the record's interface names need no
// JSON escaping: with the prefix, they are all that can bring unsafe bytes
// into the kernel line.
func namesAreJSONSafe(r *Record) bool {
	return jsonstring.Verbatim(r.InName) && jsonstring.Verbatim(r.OutName) &&
		jsonstring.Verbatim(r.PhysInName) && jsonstring.Verbatim(r.PhysOutName)
}

// flowKey returns the Community ID input, or false when the packet does not
// carry what the hash needs (ports of a non-first fragment, say).
func (pk *packet) flowKey() (flowKey, bool) {
	k := flowKey{Src: pk.src, Dst: pk.dst, Proto: pk.proto}
	switch pk.proto {
	case protoTCP, protoUDP, protoSCTP:
		if !pk.hasPorts {
			return k, false
		}
		k.SrcPort, k.DstPort, k.HasPorts = pk.sport, pk.dport, true
	case protoICMP, protoICMPv6:
		if !pk.hasICMP {
			return k, false
		}
		k.SrcPort, k.DstPort, k.HasPorts = uint16(pk.icmpType), uint16(pk.icmpCode), true
	}
	return k, true
}

// appendIptables writes the iptables object: the kernel line's fields.
func (e *Encoder) appendIptables(b []byte, r *Record) []byte {
	pk := &e.pk
	b = append(b, `,"iptables":{"input_device":`...)
	b = e.appendName(b, r.InName)
	b = append(b, `,"output_device":`...)
	b = e.appendName(b, r.OutName)
	if e.hasMAC {
		b = appendUintMember(b, `,"ether_type":`, uint64(e.mac.etherType))
	}
	if pk.version != 0 {
		b = appendUintMember(b, `,"length":`, uint64(pk.length))
		b = appendUint8Member(b, `,"tos":`, pk.tos)
		b = appendUint8Member(b, `,"ttl":`, pk.ttl)
		if pk.version == 4 {
			b = appendUint8Member(b, `,"precedence_bits":`, pk.prec)
			b = appendUintMember(b, `,"id":`, uint64(pk.id))
		} else {
			b = appendUintMember(b, `,"flow_label":`, uint64(pk.flowLabel))
		}
		b = fragmentFlagMembers[pk.fragFlags&7].appendTo(b)
		if pk.fragOffset != 0 {
			b = appendUintMember(b, `,"fragment_offset":`, uint64(pk.fragOffset))
		}
	}
	if pk.hasTCP {
		// Each flag comes with a leading comma; the first one's becomes
		// the array's bracket.
		b = append(b, `,"tcp":{"flags":`...)
		open := len(b)
		for i := range tcpFlagNames {
			if f := &tcpFlagNames[i]; pk.tcpFlags&f.bit != 0 {
				b = f.json.appendTo(b)
			}
		}
		if len(b) == open {
			b = append(b, '[')
		} else {
			b[open] = '['
		}
		b = appendUint8Member(b, `],"reserved_bits":`, pk.tcpRes)
		b = appendUintMember(b, `,"window":`, uint64(pk.window))
		b = appendUintMember(b, `,"seq":`, uint64(pk.seq))
		b = appendUintMember(b, `,"ack":`, uint64(pk.ack))
		b = append(b, '}')
	}
	if pk.hasUDP {
		b = appendUintMember(b, `,"udp":{"length":`, uint64(pk.udpLen))
		b = append(b, '}')
	}
	if pk.hasICMP {
		b = appendUint8Member(b, `,"icmp":{"type":`, pk.icmpType)
		b = appendUint8Member(b, `,"code":`, pk.icmpCode)
		if pk.hasEcho {
			b = appendUintMember(b, `,"id":`, uint64(pk.echoID))
			b = appendUintMember(b, `,"seq":`, uint64(pk.echoSeq))
		}
		if pk.hasParameter {
			b = appendUint8Member(b, `,"parameter":`, pk.parameter)
		}
		if pk.gateway != nil {
			b = append(b, `,"redirect":`...)
			b = appendJSONAddr(b, pk.gateway)
		}
		b = append(b, '}')
	}
	if pk.hasIncomplete {
		b = appendUintMember(b, `,"incomplete_bytes":`, uint64(pk.incomplete))
	}
	return append(b, '}')
}

// fragmentFlagMembers is iptables.fragment_flags for each fragFlags value.
var fragmentFlagMembers = func() (t [8]fixedText) {
	for v := 1; v < len(t); v++ {
		var names []string
		for _, f := range [...]struct {
			bit  uint8
			name string
		}{{fragCE, `"CE"`}, {fragDF, `"DF"`}, {fragMF, `"MF"`}} {
			if uint8(v)&f.bit != 0 {
				names = append(names, f.name)
			}
		}
		t[v] = newFixedText(`,"fragment_flags":[` + strings.Join(names, ",") + `]`)
	}
	return t
}()

// hookMembers is netfilter.hook for the hooks with a name.
var hookMembers = func() (t [5]fixedText) {
	for i, name := range [...]string{"prerouting", "input", "forward", "output", "postrouting"} {
		t[i] = newFixedText(`,"hook":"` + name + `"`)
	}
	return t
}()

// appendNetfilter writes the netfilter object: the NFLOG attributes.
func appendNetfilter(b []byte, r *Record) []byte {
	b = appendUintMember(b, `,"netfilter":{"group":`, uint64(r.Group))
	if r.HasHook {
		if int(r.Hook) < len(hookMembers) {
			b = hookMembers[r.Hook].appendTo(b)
		} else {
			b = appendUintString(b, `,"hook":"`, uint64(r.Hook))
		}
	}
	if r.Mark != 0 {
		b = appendUintMember(b, `,"mark":`, uint64(r.Mark))
	}
	if r.HasSeqGlobal {
		b = appendUintMember(b, `,"seq_global":`, uint64(r.SeqGlobal))
	}
	if r.PhysInDev != 0 {
		b = append(b, `,"physin":`...)
		b = jsonstring.Append(b, r.PhysInName)
	}
	if r.PhysOutDev != 0 {
		b = append(b, `,"physout":`...)
		b = jsonstring.Append(b, r.PhysOutName)
	}
	b = appendConntrack(b, r)
	return append(b, '}')
}

// eventID derives event.id from what identifies the record — host, group,
// sequence numbers, time, hook — plus the encoder's own event counter, so
// that even two identical records (no sequence numbers, same microsecond)
// get distinct ids. The id is computed once and travels with the event
// through spool and retries, which is what makes it a dedupe key.
//
// It needs a deterministic, well-distributed function of that fixed-size
// key, not a cryptographic one. The id's first 64 bits are a bijective mix
// of the counter and the host, so one encoder never repeats an id; the last
// 56 fold in the rest of the key with 64×64→128-bit multiplies.
func (e *Encoder) eventID(r *Record) []byte {
	e.count++
	t := r.Timestamp
	if t.IsZero() {
		t = r.ReceivedAt
	}
	seqs := uint64(r.Seq)<<32 | uint64(r.SeqGlobal)
	misc := uint64(r.Group)<<24 | uint64(r.Hook)<<16 | uint64(boolByte(r.HasSeq))<<8 | uint64(boolByte(r.HasSeqGlobal))
	const p0, p1, p2, p3 = 0xa0761d6478bd642f, 0xe7037ed1a0b428db, 0x8ebc6af09c88c6e3, 0x589965cc75374cc3
	lo := fmix64(e.count ^ e.hostKey)
	hi := mix(mix(uint64(t.UnixNano())^p0, seqs^p1)^misc^p2, lo^p3)
	var sum [16]byte
	binary.LittleEndian.PutUint64(sum[0:], lo)
	binary.LittleEndian.PutUint64(sum[8:], hi)
	e.id.n = base64.RawURLEncoding.EncodedLen(15)
	base64.RawURLEncoding.Encode(e.id.text[:e.id.n], sum[:15])
	return e.id.text[:e.id.n]
}

// fmix64 is MurmurHash3's 64-bit finalizer: a bijection that spreads every
// input bit over the output.
func fmix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	return x ^ x>>33
}

// mix multiplies a and b and folds the 128-bit product into 64 bits.
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// appendTimestamp opens the document with its @timestamp member: t as a
// quoted RFC 3339 UTC time with microseconds, written by hand
// (time.AppendFormat costs a tenth of the event budget) and with the part up
// to the second reused while it does not change.
func (e *Encoder) appendTimestamp(b []byte, t time.Time) []byte {
	t = t.UTC()
	if sec := t.Unix(); sec != e.lastSecond || e.lastSecondText == nil {
		year, month, day := t.Date()
		hour, minute, second := t.Clock()
		d := append(e.lastSecondText[:0], `{"@timestamp":"`...)
		d = appendDigits(d, year, 4)
		d = append(d, '-')
		d = appendDigits(d, int(month), 2)
		d = append(d, '-')
		d = appendDigits(d, day, 2)
		d = append(d, 'T')
		d = appendDigits(d, hour, 2)
		d = append(d, ':')
		d = appendDigits(d, minute, 2)
		d = append(d, ':')
		d = appendDigits(d, second, 2)
		d = append(d, '.')
		e.lastSecond, e.lastSecondText = sec, d
	}
	b = append(b, e.lastSecondText...)
	us := t.Nanosecond() / 1000
	hi, mid, lo := 2*(us/10000), 2*(us/100%100), 2*(us%100)
	return append(b, digitPairs[hi], digitPairs[hi+1], digitPairs[mid], digitPairs[mid+1],
		digitPairs[lo], digitPairs[lo+1], 'Z', '"')
}

// appendDigits appends v zero-padded to width decimal digits.
func appendDigits(b []byte, v, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for v > 0 || len(tmp)-i < width {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, tmp[i:]...)
}

// appendJSONAddr writes a 4- or 16-byte address as a quoted string: dotted
// IPv4, RFC 5952 compressed IPv6.
func appendJSONAddr(b, a []byte) []byte {
	b = append(b, '"')
	if len(a) == 4 {
		b = appendIPv4(b, a)
	} else {
		b = appendIPv6(b, a)
	}
	return append(b, '"')
}

// appendJSONLower writes s lower-cased as a JSON string. Lowering in place
// is safe: escapes never contain upper-case letters.
func appendJSONLower(b []byte, s string) []byte {
	start := len(b)
	b = jsonstring.Append(b, s)
	for i := start; i < len(b); i++ {
		if c := b[i]; c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return b
}

// transportMembers holds network.transport and network.iana_number for
// each protocol: the kernel's words, then IANA keywords for protocols the
// kernel prints as numbers, else the number.
var transportMembers = func() (t [256]fixedText) {
	names := map[int]string{
		0: "hopopt", 1: "icmp", 2: "igmp", 4: "ipv4", 6: "tcp", 8: "egp", 17: "udp", 41: "ipv6",
		43: "ipv6-route", 44: "ipv6-frag", 46: "rsvp", 47: "gre", 50: "esp", 51: "ah", 58: "ipv6-icmp",
		59: "ipv6-nonxt", 60: "ipv6-opts", 88: "eigrp", 89: "ospfigp", 94: "ipip", 103: "pim",
		108: "ipcomp", 112: "vrrp", 115: "l2tp", 132: "sctp", 135: "mobility-header", 136: "udplite",
		137: "mpls-in-ip",
	}
	for p := range t {
		num := strconv.Itoa(p)
		name, ok := names[p]
		if !ok {
			name = num
		}
		t[p] = newFixedText(`,"transport":"` + name + `","iana_number":"` + num + `"`)
	}
	return t
}()
