package main

import (
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/nflog-agent/nflog-agent/collector/nflogpcap"
	"github.com/nflog-agent/nflog-agent/decode"
)

// A logged packet as an NFLOG message (little-endian TLV headers) and as the
// Record the replay must hand to the encoder.
type logged struct {
	msg []byte
	rec decode.Record
}

func newLogged(group uint16, in, out uint32, prefix string, at time.Time, payload []byte) logged {
	tlv := func(b []byte, typ uint16, val []byte) []byte {
		b = binary.LittleEndian.AppendUint16(b, uint16(4+len(val)))
		b = binary.LittleEndian.AppendUint16(b, typ)
		b = append(b, val...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	be32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	ts := binary.BigEndian.AppendUint64(nil, uint64(at.Unix()))
	ts = binary.BigEndian.AppendUint64(ts, uint64(at.Nanosecond()/1000))

	m := []byte{decode.FamilyIPv4, 0, byte(group >> 8), byte(group)}
	m = tlv(m, 1, []byte{0x08, 0x00, decode.HookForward, 0})
	m = tlv(m, 3, ts)
	m = tlv(m, 4, be32(in))
	m = tlv(m, 5, be32(out))
	m = tlv(m, 9, payload)
	m = tlv(m, 10, append([]byte(prefix), 0))
	return logged{m, decode.Record{
		Group: group, Family: decode.FamilyIPv4,
		HasHook: true, Hook: decode.HookForward, HwProtocol: 0x0800,
		Prefix: prefix, InDev: in, OutDev: out,
		Timestamp: at, ReceivedAt: at.Add(time.Millisecond),
		Payload: payload,
	}}
}

var (
	at      = time.Unix(1700000000, 123456000).UTC()
	udpDrop = newLogged(100, 2, 3, "FW DROP ", at, []byte{
		0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 7,
		0x30, 0x39, 0, 53, 0, 8, 0, 0,
	})
	tcpAccept = newLogged(100, 1, 4000000, "FW ACCEPT ", at.Add(time.Second), []byte{
		0x45, 0, 0, 40, 0, 2, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
		0x04, 0xd2, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0x72, 0x10, 0, 0, 0, 0,
	})
	broken = logged{msg: []byte{decode.FamilyIPv4, 0, 0, 100, 9, 0, 2, 0}} // a mark attribute running past the end
)

// captureBytes is a pcap file of link type lt holding pkts.
func captureBytes(tb testing.TB, lt layers.LinkType, pkts ...logged) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(262144, lt); err != nil {
		tb.Fatal(err)
	}
	for _, p := range pkts {
		ci := gopacket.CaptureInfo{Timestamp: p.rec.ReceivedAt, CaptureLength: len(p.msg), Length: len(p.msg)}
		if p.rec.ReceivedAt.IsZero() {
			ci.Timestamp = at
		}
		if err := w.WritePacket(ci, p.msg); err != nil {
			tb.Fatal(err)
		}
	}
	return buf.Bytes()
}

// writeCapture writes a pcap file of link type lt holding pkts, cut to keep
// bytes when keep > 0, and returns its path.
func writeCapture(t *testing.T, name string, lt layers.LinkType, keep int, pkts ...logged) string {
	t.Helper()
	data := captureBytes(t, lt, pkts...)
	if keep > 0 {
		data = data[:keep]
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// events is what replay must print for recs, each changed by edit.
func events(opts decode.Options, edit func(*decode.Record), recs ...decode.Record) string {
	enc := decode.NewEncoder(opts)
	var b strings.Builder
	for _, r := range recs {
		edit(&r)
		b.Write(enc.Encode(&r).JSON)
		b.WriteByte('\n')
	}
	return b.String()
}

// hostNames fills in the interface names of this host, as replay does
// without --ifname.
func hostNames(r *decode.Record) {
	name := func(index uint32) string {
		if ifi, err := net.InterfaceByIndex(int(index)); err == nil && index != 0 {
			return ifi.Name
		}
		return ""
	}
	r.InName, r.OutName = name(r.InDev), name(r.OutDev)
}

func TestReplay(t *testing.T) {
	opts := decode.Options{Hostname: "test-host"}
	good := writeCapture(t, "good.pcap", nflogpcap.LinkTypeNFLOG, 0, udpDrop, tcpAccept)
	st, err := os.Stat(good)
	if err != nil {
		t.Fatal(err)
	}
	ethernet := writeCapture(t, "eth.pcap", layers.LinkTypeEthernet, 0, udpDrop)
	truncated := writeCapture(t, "cut.pcap", nflogpcap.LinkTypeNFLOG, int(st.Size())-5, udpDrop, tcpAccept)
	middle := writeCapture(t, "middle.pcap", nflogpcap.LinkTypeNFLOG, 0, udpDrop, broken, tcpAccept)
	missing := filepath.Join(t.TempDir(), "missing.pcap")

	tests := []struct {
		name       string
		args       []string
		wantOut    string
		wantErr    string
		wantStatus int
	}{
		{
			name:    "good file",
			args:    []string{"--hostname", "test-host", good},
			wantOut: events(opts, hostNames, udpDrop.rec, tcpAccept.rec),
		},
		{
			name: "ifname, group and message flags",
			args: []string{"--hostname", "test-host", "--ifname", "2=wan0", "--ifname=3=lan0", "--group", "7", "--message-flags", "all", good},
			wantOut: events(decode.Options{Hostname: "test-host", Flags: decode.FlagsAll}, func(r *decode.Record) {
				hostNames(r)
				names := map[uint32]string{2: "wan0", 3: "lan0"}
				if n, ok := names[r.InDev]; ok {
					r.InName = n
				}
				if n, ok := names[r.OutDev]; ok {
					r.OutName = n
				}
				r.Group = 7
			}, udpDrop.rec, tcpAccept.rec),
		},
		{
			name:       "not NFLOG, then a good file",
			args:       []string{"--hostname", "test-host", ethernet, good},
			wantOut:    events(opts, hostNames, udpDrop.rec, tcpAccept.rec),
			wantErr:    "nflog-agent replay: " + ethernet + ": capture has link type 1, want 239 (NFLOG, as tcpdump -i nflog:GROUP writes)\n",
			wantStatus: 1,
		},
		{
			name:       "missing file",
			args:       []string{"--hostname", "test-host", missing, good},
			wantOut:    events(opts, hostNames, udpDrop.rec, tcpAccept.rec),
			wantErr:    "nflog-agent replay: " + missing + ": no such file or directory\n",
			wantStatus: 1,
		},
		{
			name:       "truncated file",
			args:       []string{"--hostname", "test-host", truncated},
			wantOut:    events(opts, hostNames, udpDrop.rec),
			wantErr:    "nflog-agent replay: " + truncated + ": record 2: capture file cut short\n",
			wantStatus: 1,
		},
		{
			name:       "bad record in the middle",
			args:       []string{"--hostname", "test-host", middle},
			wantOut:    events(opts, hostNames, udpDrop.rec, tcpAccept.rec),
			wantErr:    "nflog-agent replay: " + middle + ": record 2: nflog tlv at offset 4 (type 2): length 9 runs past the end of the 8-byte message\n",
			wantStatus: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			status := runReplay(tc.args, &stdout, &stderr)
			if status != tc.wantStatus {
				t.Errorf("status %d, want %d", status, tc.wantStatus)
			}
			if got := stderr.String(); got != tc.wantErr {
				t.Errorf("stderr:\n%s\nwant:\n%s", got, tc.wantErr)
			}
			if got := stdout.String(); got != tc.wantOut {
				t.Errorf("stdout:\n%s\nwant:\n%s", got, tc.wantOut)
			}
		})
	}
}

// TestReplayIfname checks that --ifname names reach the events.
func TestReplayIfname(t *testing.T) {
	good := writeCapture(t, "good.pcap", nflogpcap.LinkTypeNFLOG, 0, udpDrop)
	var stdout, stderr bytes.Buffer
	if status := runReplay([]string{"--ifname", "2=wan-test0", "--ifname", "3=lan-test1", good}, &stdout, &stderr); status != 0 {
		t.Fatalf("status %d: %s", status, stderr.String())
	}
	for _, name := range []string{"wan-test0", "lan-test1"} {
		if !strings.Contains(stdout.String(), name) {
			t.Errorf("no %q in %s", name, stdout.String())
		}
	}
}

func TestReplayUsage(t *testing.T) {
	good := writeCapture(t, "good.pcap", nflogpcap.LinkTypeNFLOG, 0, udpDrop)
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no file", nil, "nflog-agent replay: no FILE given\nusage: nflog-agent replay"},
		{"unknown flag", []string{"--bogus", good}, "flag provided but not defined: -bogus"},
		{"bad ifname", []string{"--ifname", "eth0", good}, `invalid value "eth0" for flag -ifname: "eth0" is not INDEX=NAME with a positive INDEX`},
		{"ifname index 0", []string{"--ifname", "0=lo", good}, `"0=lo" is not INDEX=NAME`},
		{"bad message flags", []string{"--message-flags", "tcpseq,bogus", good}, `unknown flag "bogus"`},
		{"group too big", []string{"--group", "65536", good}, `invalid value "65536" for flag -group`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if status := runReplay(tc.args, &stdout, &stderr); status != 2 {
				t.Errorf("status %d, want 2", status)
			}
			if !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tc.wantErr)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}
