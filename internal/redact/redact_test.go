package redact

import "testing"

func TestRedact(t *testing.T) {
	var s Secrets
	s.Add("hunter22", "", "abc", "tok/en+=")
	for _, c := range []struct{ in, want string }{
		{"key hunter22 refused", "key [REDACTED] refused"},
		{"hunter22hunter22", "[REDACTED][REDACTED]"},
		{"Bearer tok/en+= at https://u:hunter22@h/", "Bearer [REDACTED] at https://u:[REDACTED]@h/"},
		{"abc is too short to be a secret", "abc is too short to be a secret"},
		{"", ""},
	} {
		if got := s.Redact(c.in); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestEmptySetRedactsNothing(t *testing.T) {
	var s Secrets
	if got := s.Redact("nothing secret"); got != "nothing secret" {
		t.Fatalf("got %q", got)
	}
}
