package jsonstring

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

var seeds = []string{
	"", "plain", `quote " and \ backslash`, "tab\tnew\nline\r", "\x00\x01\x1f\x7f",
	"IN=eth0 OUT= MAC=aa:bb", "é ü 日本 \u2028", "bad \xff\xfe utf-8 \xe2\x82", "<script>&amp;</script>",
}

// validUTF8 is s with each byte that is not part of valid UTF-8 replaced by
// U+FFFD, as encoding/json decodes it.
func validUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r)
		i += n
	}
	return b.String()
}

func checkRoundTrip(t *testing.T, s string) {
	t.Helper()
	out := Append([]byte("x"), s)
	if out[0] != 'x' {
		t.Fatalf("%q: the prefix was overwritten", s)
	}
	var got string
	if err := json.Unmarshal(out[1:], &got); err != nil {
		t.Fatalf("%q: %s is not a JSON string: %v", s, out[1:], err)
	}
	if want := validUTF8(s); got != want {
		t.Fatalf("%q: reads back as %q, want %q", s, got, want)
	}
	if bytesOut := Append(nil, []byte(s)); string(bytesOut) != string(out[1:]) {
		t.Fatalf("%q: string and []byte forms differ: %s, %s", s, out[1:], bytesOut)
	}
	// Verbatim may say no to what needs no escape (non-ASCII), never yes to
	// what does.
	if Verbatim(s) && string(out[1:]) != `"`+s+`"` {
		t.Fatalf("%q: Verbatim, but it is written %s", s, out[1:])
	}
}

func TestAppendReadsBack(t *testing.T) {
	for _, s := range seeds {
		checkRoundTrip(t, s)
	}
}

func TestAppendWritesLikeEncodingJSON(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"a\"b\\c", `"a\"b\\c"`},
		{"\n\r\t\x01", `"\n\r\t\u0001"`},
		{"\xff", `"\ufffd"`},
		{"<&>", `"<&>"`},
	} {
		if got := string(Append(nil, c.in)); got != c.want {
			t.Errorf("Append(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func FuzzAppend(f *testing.F) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(checkRoundTrip)
}
