package decode

import "testing"

func TestParseMACStyle(t *testing.T) {
	for in, want := range map[string]MACStyle{"": MACColon, "colon": MACColon, "RFC7042": MACRFC7042, " rfc7042 ": MACRFC7042} {
		got, err := ParseMACStyle(in)
		if err != nil || got != want {
			t.Errorf("ParseMACStyle(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseMACStyle("dash"); err == nil {
		t.Error(`ParseMACStyle("dash"): no error`)
	}
}
