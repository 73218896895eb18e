package decode

import (
	"strings"
	"testing"
)

// TestEncodeMACCopiedFromLine checks source.mac and destination.mac, which
// the event copies from the kernel line when it can, against the header's
// bytes formatted afresh: in both styles, with the MAC decoded or not, from
// the bridge's L2 header (which the line does not print), and with a prefix
// long enough that the line is cut inside the MAC.
func TestEncodeMACCopiedFromLine(t *testing.T) {
	base := benchRecords(t)[0]
	hw := append([]byte(nil), base.HwHeader...)
	if len(hw) != 14 {
		t.Fatalf("record's hardware header is %d bytes, want 14", len(hw))
	}
	hw[0], hw[11] = 0xab, 0xcd // upper-case digits in RFC 7042 style
	// The line is cut one character into the source address, after the
	// whole destination address.
	cut := strings.Repeat("p", maxLineLen-60) + " DROP "
	srcCut := string(appendMAC(nil, hw[6:12], ':', false))[:macTextLen-1]
	cases := []struct {
		name string
		opts Options
		edit func(r *Record)
		line string // what the kernel line must show of the header
		end  bool   // and that it must end with it
	}{
		{name: "colon", opts: Options{}, line: " MAC=ab:"},
		{name: "rfc7042", opts: Options{MAC: MACRFC7042}, line: " MAC=ab:"},
		{name: "decoded", opts: Options{Flags: FlagMACDecode}, line: " MACSRC="},
		{name: "l2 header", opts: Options{}, edit: func(r *Record) { r.L2Header, r.HwHeader = r.HwHeader, nil }, line: " MAC= SRC="},
		{name: "line cut", opts: Options{}, edit: func(r *Record) { r.Prefix = cut }, line: srcCut, end: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := base
			r.HwHeader = hw
			if tc.edit != nil {
				tc.edit(&r)
			}
			sep, upper := byte(':'), false
			if tc.opts.MAC == MACRFC7042 {
				sep, upper = '-', true
			}
			m := encodeMap(t, tc.opts, &r)
			msg, _ := m["message"].(string)
			if !strings.Contains(msg, tc.line) || tc.end && !strings.HasSuffix(msg, tc.line) {
				t.Fatalf("line %q does not show %q where the case needs it", msg, tc.line)
			}
			if got, want := field(m, "source.mac"), string(appendMAC(nil, hw[6:12], sep, upper)); got != want {
				t.Errorf("source.mac = %v, want %s", got, want)
			}
			if got, want := field(m, "destination.mac"), string(appendMAC(nil, hw[0:6], sep, upper)); got != want {
				t.Errorf("destination.mac = %v, want %s", got, want)
			}
		})
	}
}
