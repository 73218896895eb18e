package decode

import "strings"

// actionFromPrefix applies Sekoia's Netfilter parser rule to a log prefix:
// the kernel prints prefix+"IN=", and the parser captures the last \w+ word
// before IN= when whitespace follows it and a single space precedes it.
// The word is returned as it stands in the prefix; callers lower-case it.
func actionFromPrefix(prefix string) string {
	end := len(prefix)
	for end > 0 && isRE2Space(prefix[end-1]) {
		end--
	}
	if end == len(prefix) {
		return "" // the pattern needs whitespace before IN=
	}
	start := end
	for start > 0 && isWordByte(prefix[start-1]) {
		start--
	}
	if start == end || start == 0 || prefix[start-1] != ' ' {
		return ""
	}
	return prefix[start:end]
}

func isRE2Space(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// Verdict is what an action word says about the packet.
type verdict uint8

const (
	verdictUnknown verdict = iota
	verdictAllowed
	verdictDenied
)

// verdictOf classifies an action word, case-insensitively.
func verdictOf(action string) verdict {
	for _, w := range allowedWords {
		if strings.EqualFold(action, w) {
			return verdictAllowed
		}
	}
	for _, w := range deniedWords {
		if strings.EqualFold(action, w) {
			return verdictDenied
		}
	}
	return verdictUnknown
}

var (
	allowedWords = [...]string{"accept", "accepted", "allow", "allowed", "pass", "passed", "permit", "permitted"}
	deniedWords  = [...]string{"drop", "dropped", "reject", "rejected", "rjct", "deny", "denied", "block", "blocked"}
)
