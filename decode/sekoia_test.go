package decode

import (
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestSekoiaGolden builds each Sekoia sample's packet and NFLOG attributes
// from its log line and checks that every field Sekoia's parser expects,
// except message (their vendor text is not the kernel's format), comes out
// exactly.
func TestSekoiaGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "sekoia", "*.json"))
	if err != nil || len(files) != 5 {
		t.Fatalf("want the 5 Sekoia samples, found %d (%v)", len(files), err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			var sample struct {
				Input    struct{ Message string }
				Expected map[string]any
			}
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &sample); err != nil {
				t.Fatal(err)
			}
			rec := recordFromLogLine(t, sample.Input.Message)
			ev := NewEncoder(Options{Hostname: "fw1"}).Encode(&rec)
			got := decodeJSON(t, ev.JSON)
			delete(sample.Expected, "message")
			compareSubset(t, "", sample.Expected, got)
		})
	}
}

// compareSubset checks that every leaf of want is in got with the same
// value; related.ip is compared as a set (Sekoia sorts it).
func compareSubset(t *testing.T, path string, want, got any) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: got %v, want an object", path, got)
			return
		}
		for k, v := range w {
			compareSubset(t, strings.TrimPrefix(path+"."+k, "."), v, g[k])
		}
	case []any:
		g, _ := got.([]any)
		if path == "related.ip" {
			g = sortedCopy(g)
			w = sortedCopy(w)
		}
		if !reflect.DeepEqual(w, g) {
			t.Errorf("%s: got %v, want %v", path, got, want)
		}
	default:
		if !reflect.DeepEqual(want, got) {
			t.Errorf("%s: got %v (%T), want %v (%T)", path, got, got, want, want)
		}
	}
}

func sortedCopy(v []any) []any {
	out := append([]any(nil), v...)
	sort.Slice(out, func(i, j int) bool { return out[i].(string) < out[j].(string) })
	return out
}

func decodeJSON(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("event is not valid JSON: %v\n%s", err, b)
	}
	return m
}

// recordFromLogLine builds the NFLOG record an IPv4 kernel (or ulogd) log
// line describes: prefix, devices, Ethernet header and a packet whose headers
// carry the printed values, padded to the printed length.
func recordFromLogLine(t *testing.T, line string) Record {
	t.Helper()
	in := strings.Index(line, "IN=")
	if in < 0 {
		t.Fatalf("no IN= in %q", line)
	}
	r := Record{Group: 100, Prefix: line[:in], HasHook: true, Hook: HookForward, HwProtocol: 0x0800}
	kv := map[string]string{}
	var words []string
	seenProto := false
	for _, tok := range strings.Fields(line[in:]) {
		k, v, ok := strings.Cut(tok, "=")
		if !ok {
			words = append(words, tok)
			continue
		}
		if seenProto {
			k = "L4" + k // SPT, second LEN, ICMP ID/SEQ…
		}
		if k == "PROTO" {
			seenProto = true
		}
		kv[k] = v
	}
	num := func(k string) uint64 {
		s := strings.TrimPrefix(kv[k], "0x")
		base := 10
		if k == "TOS" || k == "PREC" || strings.HasPrefix(kv[k], "0x") {
			base = 16
		}
		if s == "" {
			return 0
		}
		n, err := strconv.ParseUint(s, base, 32)
		if err != nil {
			t.Fatalf("%s=%q: %v", k, kv[k], err)
		}
		return n
	}
	if kv["IN"] != "" {
		r.InDev, r.InName = 1, kv["IN"]
	}
	if kv["OUT"] != "" {
		r.OutDev, r.OutName = 2, kv["OUT"]
	}
	if mac := kv["MAC"]; mac != "" {
		r.HasHwType, r.HwType, r.HwLen = true, 1, 14
		r.HwHeader = mustHex(t, strings.ReplaceAll(mac, ":", ""))
	}
	r.Mark = uint32(num("MARK"))
	src, dst := netip.MustParseAddr(kv["SRC"]).As4(), netip.MustParseAddr(kv["DST"]).As4()
	pkt := make([]byte, num("LEN"))
	pkt[0] = 0x45
	pkt[1] = byte(num("TOS") | num("PREC"))
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
	binary.BigEndian.PutUint16(pkt[4:], uint16(num("ID")))
	for _, w := range words {
		if w == "DF" {
			pkt[6] |= 0x40
		}
	}
	pkt[8] = byte(num("TTL"))
	copy(pkt[12:], src[:])
	copy(pkt[16:], dst[:])
	l4 := pkt[20:]
	switch kv["PROTO"] {
	case "TCP":
		pkt[9] = protoTCP
		binary.BigEndian.PutUint16(l4[0:], uint16(num("L4SPT")))
		binary.BigEndian.PutUint16(l4[2:], uint16(num("L4DPT")))
		binary.BigEndian.PutUint32(l4[4:], uint32(num("L4SEQ")))
		binary.BigEndian.PutUint32(l4[8:], uint32(num("L4ACK")))
		l4[12] = 5 << 4
		for _, w := range words {
			for _, f := range tcpFlagNames {
				if f.name == w {
					l4[13] |= byte(f.bit)
				}
			}
		}
		binary.BigEndian.PutUint16(l4[14:], uint16(num("L4WINDOW")))
	case "UDP":
		pkt[9] = protoUDP
		binary.BigEndian.PutUint16(l4[0:], uint16(num("L4SPT")))
		binary.BigEndian.PutUint16(l4[2:], uint16(num("L4DPT")))
		binary.BigEndian.PutUint16(l4[4:], uint16(num("L4LEN")))
	case "ICMP":
		pkt[9] = protoICMP
		l4[0], l4[1] = byte(num("L4TYPE")), byte(num("L4CODE"))
		binary.BigEndian.PutUint16(l4[4:], uint16(num("L4ID")))
		binary.BigEndian.PutUint16(l4[6:], uint16(num("L4SEQ")))
	default:
		t.Fatalf("unsupported PROTO=%s", kv["PROTO"])
	}
	r.Payload = pkt
	return r
}
