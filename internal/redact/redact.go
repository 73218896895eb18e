// Package redact keeps secrets out of the text the agent shows: log lines,
// errors, /healthz and doctor's report. A server may echo a key back in an
// error body, and a transport error may quote a URL with its password.
package redact

import "strings"

// mark is what a secret is replaced with.
const mark = "[REDACTED]"

// minLen is the length under which a value is not redacted: very short
// values would redact ordinary words, and they are not credentials worth the
// name anyway.
const minLen = 4

// Secrets is a set of values to cut out of text. The zero value is an empty
// set. Add every secret before the set is shared: Redact is safe for
// concurrent use, Add is not.
type Secrets struct{ list []string }

// Add adds secrets to the set; empty and very short values are ignored.
func (s *Secrets) Add(secrets ...string) {
	for _, v := range secrets {
		if len(v) >= minLen {
			s.list = append(s.list, v)
		}
	}
}

// Redact returns text with every secret of the set replaced by mark.
func (s *Secrets) Redact(text string) string {
	for _, v := range s.list {
		text = strings.ReplaceAll(text, v, mark)
	}
	return text
}
