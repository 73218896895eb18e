package ship

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestPrintable(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		max            int
	}{
		{"plain", `{"error":"bad key"}`, `{"error":"bad key"}`, 0},
		{"ANSI escape", "\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`, 0},
		{"forged log line", "ok\nlevel=ERROR msg=forged\r", `ok\x0alevel=ERROR msg=forged\x0d`, 0},
		{"NUL, BEL, DEL", "a\x00b\x07c\x7f", `a\x00b\x07c\x7f`, 0},
		{"C1 control", "a\u009bb", `a\u009bb`, 0},
		{"bidi override", "abc\u202edcba", `abc\u202edcba`, 0},
		{"invalid UTF-8", "a\xff\xfeb\xc3", `a\xff\xfeb\xc3`, 0},
		{"UTF-8 kept", "déjà vu ✓", "déjà vu ✓", 0},
		{"cut", strings.Repeat("x", 20), strings.Repeat("x", 8) + "…", 8},
		{"cut after an escape", strings.Repeat("\x1b", 5), `\x1b\x1b…`, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.max == 0 {
				tc.max = maxQuoted
			}
			if got := Printable(tc.in, tc.max); got != tc.want {
				t.Errorf("Printable(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	huge := strings.Repeat("\x1b[2J", 1<<20) // a 4 MiB hostile body
	if got := Printable(huge, maxQuoted); len(got) > maxQuoted+8 || !strings.HasSuffix(got, "…") {
		t.Errorf("a huge body gave %d bytes", len(got))
	}
}

// FuzzPrintable checks what a hostile server's bytes become: valid UTF-8,
// only printable runes, and bounded.
func FuzzPrintable(f *testing.F) {
	for _, s := range []string{"", "ok", "\x1b[31m", "a\xffb", "\u202e", "\n\r\t", strings.Repeat("é", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Printable(s, 64)
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8: %q", got)
		}
		for _, r := range got {
			if !unicode.IsPrint(r) {
				t.Fatalf("non-printable %U in %q", r, got)
			}
		}
		if len(got) > 64+len(`\u0000`)+len("…") {
			t.Fatalf("%d bytes", len(got))
		}
	})
}

func TestRedirectLocation(t *testing.T) {
	req := &http.Request{URL: &url.URL{Scheme: "https", Host: "intake.example", Path: "/array"}}
	for loc, want := range map[string]string{
		"http://user:pw@other.example:8080/p?token=abc#frag": "http://other.example:8080/p",
		"/elsewhere?intake_key=abc":                          "https://intake.example/elsewhere",
		"https://evil.example/\x1b[2J":                       "(no usable Location)",
		"":                                                   "(no usable Location)",
	} {
		resp := &http.Response{StatusCode: 307, Header: http.Header{}, Request: req}
		if loc != "" {
			resp.Header.Set("Location", loc)
		}
		if got := RedirectLocation(resp); got != want {
			t.Errorf("Location %q: %q, want %q", loc, got, want)
		}
	}
}
