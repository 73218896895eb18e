package decode

import (
	"fmt"
	"strconv"
	"strings"
)

// LogFlags is the kernel's logging flag set (nf_log.h NF_LOG_*) that the
// kernel line emulates: the flags of the `log` rule or LOG target the NFLOG
// rule stands in for.
type LogFlags uint8

// The kernel's logging flags.
const (
	FlagTCPSeq    LogFlags = 0x01 // nft "tcp sequence", iptables --log-tcp-sequence
	FlagTCPOpt    LogFlags = 0x02 // nft "tcp options", iptables --log-tcp-options
	FlagIPOpt     LogFlags = 0x04 // nft "ip options", iptables --log-ip-options
	FlagUID       LogFlags = 0x08 // nft "skuid", iptables --log-uid
	FlagMACDecode LogFlags = 0x20 // nft "ether", iptables --log-macdecode
	FlagsAll      LogFlags = 0x2f // nft "all"
)

var flagNames = []struct {
	name string
	flag LogFlags
}{
	{"tcpseq", FlagTCPSeq},
	{"tcpopt", FlagTCPOpt},
	{"ipopt", FlagIPOpt},
	{"uid", FlagUID},
	{"macdecode", FlagMACDecode},
}

// ParseLogFlags reads a flag set written as comma-separated names (tcpseq,
// tcpopt, ipopt, uid, macdecode), "all", "none", "" or a number such as 0x2f.
func ParseLogFlags(s string) (LogFlags, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "", "none":
		return 0, nil
	case "all":
		return FlagsAll, nil
	}
	if s[0] >= '0' && s[0] <= '9' {
		n, err := strconv.ParseUint(s, 0, 8)
		if err != nil || LogFlags(n)&^FlagsAll != 0 {
			return 0, fmt.Errorf("log flags %q: not a subset of 0x2f", s)
		}
		return LogFlags(n), nil
	}
	var f LogFlags
	for _, part := range strings.Split(s, ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		found := false
		for _, fn := range flagNames {
			if fn.name == part {
				f |= fn.flag
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("log flags %q: unknown flag %q (want tcpseq, tcpopt, ipopt, uid, macdecode, all or none)", s, part)
		}
	}
	return f, nil
}

// String gives the flag set in the form ParseLogFlags reads.
func (f LogFlags) String() string {
	if f == 0 {
		return "none"
	}
	var parts []string
	for _, fn := range flagNames {
		if f&fn.flag != 0 {
			parts = append(parts, fn.name)
		}
	}
	return strings.Join(parts, ",")
}

// MACStyle is how source.mac and destination.mac are written.
type MACStyle uint8

const (
	// MACColon is lower-case colon form, aa:bb:cc:dd:ee:ff, as Sekoia writes it.
	MACColon MACStyle = iota
	// MACRFC7042 is upper-case dash form, AA-BB-CC-DD-EE-FF, as ECS and
	// Elasticsearch's iptables pipeline write it.
	MACRFC7042
)

// ParseMACStyle reads a MAC style by its configuration name: "colon" (or
// "") for MACColon, "rfc7042" for MACRFC7042.
func ParseMACStyle(s string) (MACStyle, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "colon":
		return MACColon, nil
	case "rfc7042":
		return MACRFC7042, nil
	}
	return 0, fmt.Errorf("mac format %q: want colon (aa:bb:cc:dd:ee:ff) or rfc7042 (AA-BB-CC-DD-EE-FF)", s)
}

// Options configure an Encoder. They are per group: each group may emulate a
// different log rule.
type Options struct {
	Flags    LogFlags // flag set the kernel line emulates
	Hostname string   // observer.hostname
	MAC      MACStyle
	// Actions overrides the action derived from the prefix: exact prefix
	// (as the rule has it, trailing space included) → action word.
	Actions map[string]string
}
