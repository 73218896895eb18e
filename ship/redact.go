package ship

import (
	"strings"
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

// maxLoggedBody is how much of a response body goes to the log.
const maxLoggedBody = 512

// bodySnippet returns the start of a response body for the log: redacted,
// cut to maxLoggedBody bytes on a rune boundary.
func (r *redactor) bodySnippet(b []byte) string {
	s := r.redact(string(b))
	if len(s) <= maxLoggedBody {
		return s
	}
	cut := maxLoggedBody
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
