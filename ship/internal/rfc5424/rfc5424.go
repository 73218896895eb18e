// Package rfc5424 writes syslog messages in the RFC 5424 format and frames
// them for a TCP stream (RFC 6587).
package rfc5424

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Header is what every message of a sender has in common. Its fields are
// checked by [Header.Validate]; Append assumes they are valid.
type Header struct {
	Facility int    // 0..23
	Severity int    // 0..7
	AppName  string // up to 48 printable US-ASCII characters, or "" for none
	ProcID   string // up to 128, or "" for none
	MsgID    string // up to 32, or "" for none
	// SD is the rendered STRUCTURED-DATA ("" for none), from [Element.Append].
	SD string
}

// Field length limits of RFC 5424.
const (
	maxHostname = 255
	MaxAppName  = 48
	MaxProcID   = 128
	MaxMsgID    = 32
	maxSDName   = 32
)

// Validate reports the first field that RFC 5424 does not allow.
func (h *Header) Validate() error {
	if h.Facility < 0 || h.Facility > 23 {
		return fmt.Errorf("facility %d: want 0 to 23", h.Facility)
	}
	if h.Severity < 0 || h.Severity > 7 {
		return fmt.Errorf("severity %d: want 0 to 7", h.Severity)
	}
	for _, f := range []struct{ name, v string }{{"app_name", h.AppName}, {"procid", h.ProcID}, {"msgid", h.MsgID}} {
		if err := CheckField(f.name, f.v); err != nil {
			return fmt.Errorf("%s %w", f.name, err)
		}
	}
	return nil
}

// fieldMax are the lengths RFC 5424 allows APP-NAME, PROCID and MSGID.
var fieldMax = map[string]int{"app_name": MaxAppName, "procid": MaxProcID, "msgid": MaxMsgID}

// CheckField reports whether v may be the header field name (app_name,
// procid or msgid).
func CheckField(name, v string) error {
	if max := fieldMax[name]; len(v) > max || !printable(v) {
		return fmt.Errorf("%q: want at most %d printable US-ASCII characters without spaces", v, max)
	}
	return nil
}

// Append appends one message to dst: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME
// PROCID MSGID SD MSG`. The time is written in UTC with microseconds (a zero
// time as "-"); host is cleaned by appendHostname.
func (h *Header) Append(dst []byte, t time.Time, host, msg []byte) []byte {
	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, int64(h.Facility*8+h.Severity), 10)
	dst = append(dst, ">1 "...)
	if t.IsZero() {
		dst = append(dst, '-')
	} else {
		dst = t.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000Z07:00")
	}
	dst = append(dst, ' ')
	dst = appendHostname(dst, host)
	dst = append(dst, ' ')
	dst = appendField(dst, h.AppName)
	dst = append(dst, ' ')
	dst = appendField(dst, h.ProcID)
	dst = append(dst, ' ')
	dst = appendField(dst, h.MsgID)
	dst = append(dst, ' ')
	dst = appendField(dst, h.SD)
	if len(msg) > 0 {
		dst = append(dst, ' ')
		dst = append(dst, msg...)
	}
	return dst
}

// appendHostname appends host as a HOSTNAME field: "-" when empty, cut to
// 255 bytes, and any byte that is not printable US-ASCII replaced by '_'
// (the field cannot hold spaces or UTF-8).
func appendHostname(dst, host []byte) []byte {
	if len(host) == 0 {
		return append(dst, '-')
	}
	if len(host) > maxHostname {
		host = host[:maxHostname]
	}
	for _, c := range host {
		if c < 33 || c > 126 {
			c = '_'
		}
		dst = append(dst, c)
	}
	return dst
}

func appendField(dst []byte, v string) []byte {
	if v == "" {
		return append(dst, '-')
	}
	return append(dst, v...)
}

// printable says whether s is made of printable US-ASCII characters other
// than space (PRINTUSASCII).
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return true
}

// Element is one structured-data element: `[ID NAME="VALUE" …]`.
type Element struct {
	ID     string
	Params []Param // written in this order
}

// Param is one parameter of an Element.
type Param struct{ Name, Value string }

// Render checks the element and returns its text, with `"`, `\` and `]`
// escaped in the values.
func (e Element) Render() (string, error) {
	if !sdName(e.ID) {
		return "", fmt.Errorf("structured data id %q: want 1 to 32 printable US-ASCII characters, none of = ] \" or space", e.ID)
	}
	var b strings.Builder
	b.WriteString("[" + e.ID)
	for _, p := range e.Params {
		if !sdName(p.Name) {
			return "", fmt.Errorf("structured data parameter %q: want 1 to 32 printable US-ASCII characters, none of = ] \" or space", p.Name)
		}
		b.WriteString(" " + p.Name + `="`)
		for _, r := range p.Value {
			if r == '"' || r == '\\' || r == ']' {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		b.WriteByte('"')
	}
	b.WriteByte(']')
	return b.String(), nil
}

func sdName(s string) bool {
	return s != "" && len(s) <= maxSDName && printable(s) && !strings.ContainsAny(s, `= ]"`)
}

// Facilities by name, as syslog.conf and rsyslog spell them.
var facilities = []string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
	"authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}

// Severities by name; "warn" and "error" are accepted too.
var severities = []string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// Facility returns the code of a facility name (kern, local0, …).
func Facility(name string) (int, error) {
	if i := slices.Index(facilities, strings.ToLower(name)); i >= 0 {
		return i, nil
	}
	return 0, fmt.Errorf("%q: want kern, user, mail, daemon, auth, syslog, … or local0 to local7", name)
}

// Severity returns the code of a severity name (emerg … debug).
func Severity(name string) (int, error) {
	switch n := strings.ToLower(name); n {
	case "warn":
		return 4, nil
	case "error":
		return 3, nil
	default:
		if i := slices.Index(severities, n); i >= 0 {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%q: want emerg, alert, crit, err, warning, notice, info or debug", name)
}

// AppendOctetCounted appends msg framed by octet counting: `LEN SP MSG`.
func AppendOctetCounted(dst, msg []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(msg)), 10)
	dst = append(dst, ' ')
	return append(dst, msg...)
}
