package decode

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// ECSVersion is the ECS version the events conform to.
const ECSVersion = "8.17.0"

// Event is one decoded record: the ECS JSON document and the few attributes a
// sink needs besides it. The byte slices belong to the Encoder that produced
// the Event and stay valid only until its next Encode call; copy what you keep.
type Event struct {
	ID      []byte    // event.id: stable dedupe key derived from the record
	Time    time.Time // @timestamp; zero when the record carries no time
	Message []byte    // the kernel's log line (`message`)
	JSON    []byte    // the ECS document, one line, no trailing newline
}

// Encoder turns Records into Events, reusing its buffers so that the steady
// state allocates nothing. It is not safe for concurrent use: give each
// goroutine its own.
type Encoder struct {
	opts       Options
	line       []byte
	observer   string  // the constant members of observer, JSON-encoded once
	hostHash   [8]byte // identifies the host in event ids
	count      uint64  // events encoded, part of the event id
	id         [20]byte
	pk         packet
	srcAddr    []byte // quoted source address, written three times
	dstAddr    []byte
	lastPrefix prefixFields
	// The date and time to the second of the last @timestamp: events come in
	// bursts within the same second.
	lastSecond     int64
	lastSecondText []byte
	j              jsonWriter
}

// NewEncoder returns an Encoder with the given options.
func NewEncoder(opts Options) *Encoder {
	e := &Encoder{opts: opts}
	if opts.Hostname != "" {
		e.observer = `"hostname":` + string(appendJSONString(nil, opts.Hostname)) + ","
	}
	e.observer += `"type":"firewall","vendor":"Linux","product":"Netfilter"`
	sum := sha256.Sum256([]byte(opts.Hostname))
	copy(e.hostHash[:], sum[:])
	return e
}

// Encode decodes r. Malformed or truncated packets still give an event whose
// message says what the kernel would print (TRUNCATED, INCOMPLETE [N bytes]).
func (e *Encoder) Encode(r *Record) Event {
	pk := &e.pk
	e.line = appendKernelLine(e.line[:0], r, e.opts.Flags, pk)
	ev := Event{Time: r.Timestamp, Message: e.line, ID: e.eventID(r)}
	if ev.Time.IsZero() {
		ev.Time = r.ReceivedAt
	}

	j := &e.j
	j.b = append(j.b[:0], '{')
	j.depth, j.members[0] = 0, 0
	if !ev.Time.IsZero() {
		j.key("@timestamp")
		j.b = e.appendTimestamp(j.b, ev.Time)
	}
	j.key("message")
	if lineIsJSONSafe(r) {
		// Everything but the prefix and the names is the kernel's ASCII.
		j.b = append(j.b, '"')
		j.b = append(j.b, e.line...)
		j.b = append(j.b, '"')
	} else {
		j.b = appendJSONString(j.b, e.line)
	}
	j.chunk(`"ecs":{"version":"` + ECSVersion + `"}`)

	p := e.prefixInfo(r.Prefix)
	e.writeEvent(r, p, ev.ID)
	if p.action != nil {
		j.chunk(`"action":{"name":`)
		j.b = append(j.b, p.action...)
		j.b = append(j.b, `,"outcome":"success"}`...)
	}
	if p.rule != nil {
		j.chunk(`"rule":{"name":`)
		j.b = append(j.b, p.rule...)
		j.b = append(j.b, '}')
	}
	e.writeObserver(r)
	e.writeEndpoints(r)
	e.writeNetwork()
	if r.HasUID {
		j.open("user")
		j.uintString("id", uint64(r.UID))
		j.close()
	}
	if r.HasGID {
		j.open("group")
		j.uintString("id", uint64(r.GID))
		j.close()
	}
	e.writeIptables(r)
	e.writeNetfilter(r)
	j.b = append(j.b, '}')
	ev.JSON = j.b
	return ev
}

// prefixFields is what a prefix gives the event, JSON-encoded.
type prefixFields struct {
	prefix  string
	action  []byte // quoted, lower-cased action word; nil when there is none
	verdict verdict
	rule    []byte // quoted rule.name; nil for a blank prefix

	actionBuf, ruleBuf []byte // storage reused by action and rule
}

// prefixInfo derives the prefix's fields, once per run of records with the
// same prefix: a group's records mostly share a few prefixes.
func (e *Encoder) prefixInfo(prefix string) *prefixFields {
	p := &e.lastPrefix
	if prefix == p.prefix && p.prefix != "" {
		return p
	}
	action := e.opts.Actions[prefix]
	if action == "" {
		action = actionFromPrefix(prefix)
	}
	p.prefix, p.verdict = prefix, verdictOf(action)
	p.action, p.rule = nil, nil
	if action != "" {
		p.action = appendJSONLower(p.actionBuf[:0], action)
	}
	if name := strings.TrimSpace(prefix); name != "" {
		p.rule = appendJSONString(p.ruleBuf[:0], name)
	}
	p.actionBuf, p.ruleBuf = p.action, p.rule
	return p
}

func (e *Encoder) writeEvent(r *Record, p *prefixFields, id []byte) {
	j, pk := &e.j, &e.pk
	j.chunk(`"event":{"kind":"event","category":["network"]`)
	if pk.version != 0 || p.verdict != verdictUnknown {
		j.b = append(j.b, `,"type":[`...)
		if pk.version != 0 {
			j.b = append(j.b, `"connection"`...)
			if p.verdict != verdictUnknown {
				j.b = append(j.b, ',')
			}
		}
		switch p.verdict {
		case verdictAllowed:
			j.b = append(j.b, `"allowed"`...)
		case verdictDenied:
			j.b = append(j.b, `"denied"`...)
		}
		j.b = append(j.b, ']')
	}
	j.b = append(j.b, `,"module":"netfilter","dataset":"netfilter.log","id":"`...)
	j.b = append(j.b, id...)
	j.b = append(j.b, '"')
	if r.HasSeq {
		j.b = append(j.b, `,"sequence":`...)
		j.b = appendUint(j.b, uint64(r.Seq))
	}
	if p.action != nil {
		j.b = append(j.b, `,"action":`...)
		j.b = append(j.b, p.action...)
		j.b = append(j.b, `,"outcome":"success"`...)
	}
	j.b = append(j.b, '}')
}

func (e *Encoder) writeObserver(r *Record) {
	j := &e.j
	j.open("observer")
	j.chunk(e.observer)
	if r.InName != "" {
		j.open("ingress")
		j.open("interface")
		j.str("name", r.InName)
		j.close()
		j.close()
	}
	if r.OutName != "" {
		j.open("egress")
		j.open("interface")
		j.str("name", r.OutName)
		j.close()
		j.close()
	}
	j.close()
}

// writeEndpoints writes source.*, destination.* and related.ip.
func (e *Encoder) writeEndpoints(r *Record) {
	j, pk := &e.j, &e.pk
	var srcMAC, dstMAC []byte
	if hw := ethernetHeader(r); hw != nil {
		srcMAC, dstMAC = hw[6:12], hw[0:6]
	}
	if pk.version != 0 {
		e.srcAddr = appendJSONAddr(e.srcAddr[:0], pk.src)
		e.dstAddr = appendJSONAddr(e.dstAddr[:0], pk.dst)
	}
	e.writeEndpoint("source", e.srcAddr, pk.sport, srcMAC)
	e.writeEndpoint("destination", e.dstAddr, pk.dport, dstMAC)
	if pk.version != 0 {
		j.open("related")
		j.key("ip")
		j.b = append(j.b, '[')
		j.b = append(j.b, e.srcAddr...)
		if string(pk.src) != string(pk.dst) {
			j.b = append(j.b, ',')
			j.b = append(j.b, e.dstAddr...)
		}
		j.b = append(j.b, ']')
		j.close()
	}
}

// writeEndpoint writes source or destination; addr is the quoted address.
func (e *Encoder) writeEndpoint(key string, addr []byte, port uint16, mac []byte) {
	j, pk := &e.j, &e.pk
	j.open(key)
	if pk.version != 0 {
		j.raw("ip", addr)
		j.raw("address", addr)
		if pk.hasPorts {
			j.uint("port", uint64(port))
		}
	}
	if mac != nil {
		j.key("mac")
		j.b = append(j.b, '"')
		if e.opts.MAC == MACRFC7042 {
			j.b = appendMAC(j.b, mac, '-', true)
		} else {
			j.b = appendMAC(j.b, mac, ':', false)
		}
		j.b = append(j.b, '"')
	}
	if key == "source" && pk.version != 0 {
		j.uint("bytes", uint64(pk.length))
	}
	j.close()
}

// ethernetHeader returns the record's 14-byte Ethernet header, or nil.
func ethernetHeader(r *Record) []byte {
	if len(r.HwHeader) == 14 {
		return r.HwHeader
	}
	return nil
}

func (e *Encoder) writeNetwork() {
	j, pk := &e.j, &e.pk
	if pk.version == 0 {
		return
	}
	j.open("network")
	if pk.version == 4 {
		j.lit("type", "ipv4")
	} else {
		j.lit("type", "ipv6")
	}
	if pk.hasProto {
		j.key("transport")
		j.b = appendTransport(j.b, pk.proto)
		j.uintString("iana_number", uint64(pk.proto))
		if k, ok := pk.flowKey(); ok {
			j.key("community_id")
			j.b = append(j.b, '"')
			j.b = appendCommunityID(j.b, 0, k)
			j.b = append(j.b, '"')
		}
	}
	j.close()
}

// lineIsJSONSafe reports whether the record's kernel line needs no JSON
// escaping: only the prefix and interface names can bring unsafe bytes.
func lineIsJSONSafe(r *Record) bool {
	return isJSONSafe(r.Prefix) && isJSONSafe(r.InName) && isJSONSafe(r.OutName) &&
		isJSONSafe(r.PhysInName) && isJSONSafe(r.PhysOutName)
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

func (e *Encoder) writeIptables(r *Record) {
	j, pk := &e.j, &e.pk
	j.open("iptables")
	j.str("input_device", r.InName)
	j.str("output_device", r.OutName)
	if hw := ethernetHeader(r); hw != nil {
		j.uint("ether_type", uint64(binary.BigEndian.Uint16(hw[12:14])))
	}
	if pk.version != 0 {
		j.uint("length", uint64(pk.length))
		j.uint("tos", uint64(pk.tos))
		j.uint("ttl", uint64(pk.ttl))
		if pk.version == 4 {
			j.uint("precedence_bits", uint64(pk.prec))
			j.uint("id", uint64(pk.id))
		} else {
			j.uint("flow_label", uint64(pk.flowLabel))
		}
		if pk.fragFlags != 0 {
			j.key("fragment_flags")
			j.b = append(j.b, '[')
			sep := false
			for _, f := range [...]struct {
				bit  uint8
				name string
			}{{fragCE, `"CE"`}, {fragDF, `"DF"`}, {fragMF, `"MF"`}} {
				if pk.fragFlags&f.bit != 0 {
					if sep {
						j.b = append(j.b, ',')
					}
					j.b = append(j.b, f.name...)
					sep = true
				}
			}
			j.b = append(j.b, ']')
		}
		if pk.fragOffset != 0 {
			j.uint("fragment_offset", uint64(pk.fragOffset))
		}
	}
	if pk.hasTCP {
		j.open("tcp")
		j.key("flags")
		j.b = append(j.b, '[')
		sep := false
		for _, f := range tcpFlagNames {
			if pk.tcpFlags&f.bit != 0 {
				if sep {
					j.b = append(j.b, ',')
				}
				j.b = append(j.b, '"')
				j.b = append(j.b, f.name...)
				j.b = append(j.b, '"')
				sep = true
			}
		}
		j.b = append(j.b, ']')
		j.uint("reserved_bits", uint64(pk.tcpRes))
		j.uint("window", uint64(pk.window))
		j.uint("seq", uint64(pk.seq))
		j.uint("ack", uint64(pk.ack))
		j.close()
	}
	if pk.hasUDP {
		j.open("udp")
		j.uint("length", uint64(pk.udpLen))
		j.close()
	}
	if pk.hasICMP {
		j.open("icmp")
		j.uint("type", uint64(pk.icmpType))
		j.uint("code", uint64(pk.icmpCode))
		if pk.hasEcho {
			j.uint("id", uint64(pk.echoID))
			j.uint("seq", uint64(pk.echoSeq))
		}
		if pk.hasParameter {
			j.uint("parameter", uint64(pk.parameter))
		}
		if pk.gateway != nil {
			j.key("redirect")
			j.b = appendJSONAddr(j.b, pk.gateway)
		}
		j.close()
	}
	if pk.hasIncomplete {
		j.uint("incomplete_bytes", uint64(pk.incomplete))
	}
	j.close()
}

var hookNames = [...]string{"prerouting", "input", "forward", "output", "postrouting"}

// ctStates names enum ip_conntrack_info; 7 is IP_CT_UNTRACKED.
var ctStates = [...]string{"established", "related", "new", "established_reply", "related_reply", "", "", "untracked"}

func (e *Encoder) writeNetfilter(r *Record) {
	j := &e.j
	j.open("netfilter")
	j.uint("group", uint64(r.Group))
	if r.HasHook {
		if int(r.Hook) < len(hookNames) {
			j.lit("hook", hookNames[r.Hook])
		} else {
			j.uintString("hook", uint64(r.Hook))
		}
	}
	if r.Mark != 0 {
		j.uint("mark", uint64(r.Mark))
	}
	if r.HasSeqGlobal {
		j.uint("seq_global", uint64(r.SeqGlobal))
	}
	if r.PhysInDev != 0 {
		j.str("physin", r.PhysInName)
	}
	if r.PhysOutDev != 0 {
		j.str("physout", r.PhysOutName)
	}
	if r.HasCtInfo || r.Ct != nil {
		j.open("ct")
		if r.HasCtInfo && int(r.CtInfo) < len(ctStates) && ctStates[r.CtInfo] != "" {
			j.lit("state", ctStates[r.CtInfo])
		}
		if id, ok := conntrackID(r.Ct); ok {
			j.uint("id", uint64(id))
		}
		j.close()
	}
	j.close()
}

// conntrackID finds CTA_ID (12, big-endian u32) among the top-level netlink
// attributes of NFULA_CT.
func conntrackID(ct []byte) (uint32, bool) {
	for len(ct) >= 4 {
		n := int(binary.NativeEndian.Uint16(ct[0:2]))
		typ := binary.NativeEndian.Uint16(ct[2:4]) & 0x3fff
		if n < 4 || n > len(ct) {
			return 0, false
		}
		if typ == 12 && n == 8 {
			return binary.BigEndian.Uint32(ct[4:8]), true
		}
		n = (n + 3) &^ 3
		if n > len(ct) {
			return 0, false
		}
		ct = ct[n:]
	}
	return 0, false
}

// eventID derives event.id from what identifies the record — host, group,
// sequence numbers, time, hook — plus the encoder's own event counter, so
// that even two identical records (no sequence numbers, same microsecond)
// get distinct ids. The id is computed once and travels with the event
// through spool and retries, which is what makes it a dedupe key.
func (e *Encoder) eventID(r *Record) []byte {
	e.count++
	t := r.Timestamp
	if t.IsZero() {
		t = r.ReceivedAt
	}
	var in [64]byte
	b := append(in[:0], e.hostHash[:]...)
	b = binary.BigEndian.AppendUint64(b, e.count)
	b = binary.BigEndian.AppendUint64(b, uint64(t.UnixNano()))
	b = binary.BigEndian.AppendUint32(b, r.Seq)
	b = binary.BigEndian.AppendUint32(b, r.SeqGlobal)
	b = binary.BigEndian.AppendUint16(b, r.Group)
	b = append(b, r.Hook, boolByte(r.HasSeq), boolByte(r.HasSeqGlobal))
	sum := sha256.Sum256(b)
	base64.RawURLEncoding.Encode(e.id[:], sum[:15])
	return e.id[:]
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// appendTimestamp writes t as a quoted RFC 3339 UTC time with microseconds,
// by hand (time.AppendFormat costs a tenth of the event budget) and with the
// part up to the second reused while it does not change.
func (e *Encoder) appendTimestamp(b []byte, t time.Time) []byte {
	t = t.UTC()
	if sec := t.Unix(); sec != e.lastSecond || e.lastSecondText == nil {
		year, month, day := t.Date()
		hour, minute, second := t.Clock()
		d := append(e.lastSecondText[:0], '"')
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
	b = appendDigits(b, t.Nanosecond()/1000, 6)
	return append(b, 'Z', '"')
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
		b = netip.AddrFrom16([16]byte(a)).AppendTo(b)
	}
	return append(b, '"')
}

// appendJSONLower writes s lower-cased as a JSON string. Lowering in place
// is safe: escapes never contain upper-case letters.
func appendJSONLower(b []byte, s string) []byte {
	start := len(b)
	b = appendJSONString(b, s)
	for i := start; i < len(b); i++ {
		if c := b[i]; c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return b
}

// transportNames are the network.transport values: the kernel's words, then
// IANA keywords for protocols the kernel prints as numbers.
var transportNames = [256]string{
	0: "hopopt", 1: "icmp", 2: "igmp", 4: "ipv4", 6: "tcp", 8: "egp", 17: "udp", 41: "ipv6",
	43: "ipv6-route", 44: "ipv6-frag", 46: "rsvp", 47: "gre", 50: "esp", 51: "ah", 58: "ipv6-icmp",
	59: "ipv6-nonxt", 60: "ipv6-opts", 88: "eigrp", 89: "ospfigp", 94: "ipip", 103: "pim",
	108: "ipcomp", 112: "vrrp", 115: "l2tp", 132: "sctp", 135: "mobility-header", 136: "udplite",
	137: "mpls-in-ip",
}

func appendTransport(b []byte, proto uint8) []byte {
	b = append(b, '"')
	if name := transportNames[proto]; name != "" {
		b = append(b, name...)
	} else {
		b = strconv.AppendUint(b, uint64(proto), 10)
	}
	return append(b, '"')
}
