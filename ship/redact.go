package ship

import (
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nflog-agent/nflog-agent/internal/redact"
)

// maxQuoted is how much of what a server said is quoted in a log line or
// in /healthz.
const maxQuoted = 512

// bodySnippet returns the start of a response body for the log and for
// /healthz: without secrets, made printable, cut.
func bodySnippet(secrets *redact.Secrets, b []byte) string {
	return Printable(secrets.Redact(string(b)), maxQuoted)
}

// Printable returns s fit to quote in a log line, a terminal or a line of
// /healthz when it comes from a server that may be hostile: control
// characters (ANSI escapes, newlines that would forge a line), other
// non-printable runes (bidirectional overrides) and invalid UTF-8 are
// written as Go escapes (\x1b, \u202e), and the result is cut to about max
// bytes, with "…" when it was cut.
func Printable(s string, max int) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if b.Len() >= max {
			b.WriteString("…")
			break
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x80 && !unicode.IsPrint(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case !unicode.IsPrint(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// RedirectLocation returns where a redirect answer points, fit for a log
// line: resolved against the request's URL, without user name, password,
// query or fragment (where tokens travel), printable and cut.
func RedirectLocation(resp *http.Response) string {
	loc, err := resp.Location()
	if err != nil {
		return "(no usable Location)"
	}
	loc.User, loc.RawQuery, loc.ForceQuery, loc.Fragment, loc.RawFragment = nil, "", false, "", ""
	return Printable(loc.String(), maxQuoted)
}
