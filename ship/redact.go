package ship

import (
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// redactor removes secrets from text that goes to logs, errors and stats:
// a server may echo a key back in an error body, and a transport error may
// quote a URL.
type redactor struct{ secrets []string }

const redacted = "[REDACTED]"

func (r *redactor) add(secrets ...string) {
	for _, s := range secrets {
		// Very short values would redact ordinary words; they are not
		// credentials worth the name anyway.
		if len(s) >= 4 {
			r.secrets = append(r.secrets, s)
		}
	}
}

func (r *redactor) redact(s string) string {
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, redacted)
	}
	return s
}

// maxQuoted is how much of what a server said is quoted in a log line or
// in /healthz.
const maxQuoted = 512

// bodySnippet returns the start of a response body for the log and for
// /healthz: redacted, made printable, cut.
func (r *redactor) bodySnippet(b []byte) string {
	return Printable(r.redact(string(b)), maxQuoted)
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
