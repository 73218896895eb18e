package decode

import (
	"strings"
	"testing"
	"time"
)

// benchRecords is a realistic mix from the real-kernel vectors: plain TCP,
// UDP and ICMP/ICMPv6 packets over IPv4 and IPv6 (no errors, fragments or
// options), inbound with an Ethernet header and outbound without, with the
// attributes the collector sets (sequence numbers, timestamps, a prefix).
func benchRecords(tb testing.TB) []Record {
	var recs []Record
	ts := time.Date(2026, 11, 30, 12, 0, 0, 123456000, time.UTC)
	for i, v := range loadKernelVectors(tb) {
		line := v.Expected["0x2f"]
		if strings.ContainsAny(line, "[") || strings.Contains(line, "OPT (") || strings.Contains(line, "FRAG") ||
			!strings.Contains(line, "PROTO=TCP") && !strings.Contains(line, "PROTO=UDP ") && !strings.Contains(line, "PROTO=ICMP") {
			continue
		}
		r := v.record(tb)
		r.HasSeq, r.Seq = true, uint32(i)
		r.HasSeqGlobal, r.SeqGlobal = true, uint32(i)
		r.Timestamp = ts
		r.Prefix = "IPTABLES: DROP "
		recs = append(recs, r)
	}
	if len(recs) < 8 {
		tb.Fatalf("only %d benchmark records", len(recs))
	}
	return recs
}

// conntrackRecords is benchRecords with a conntrack entry on every record,
// as a router with NAT logs them: SNAT, DNAT or both, with NFULA_CT_INFO.
// The entry's tuples are not the packet's: the encoder does not compare them.
func conntrackRecords(tb testing.TB) []Record {
	recs := benchRecords(tb)
	entries := natEntries()
	kinds := []string{"snat", "dnat", "both"}
	for i := range recs {
		recs[i].Ct = entries[kinds[i%len(kinds)]]
		recs[i].Ct.ID = uint32(i)
		recs[i].HasCtInfo, recs[i].CtInfo = true, uint32(i%2)*CtInfoEstablishedReply
	}
	return recs
}

// BenchmarkDecode measures Record → kernel line + ECS JSON, per event:
// "plain" on records without conntrack, "conntrack" on records with an
// entry and NAT.
func BenchmarkDecode(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchmarkDecode(b, benchRecords(b)) })
	b.Run("conntrack", func(b *testing.B) { benchmarkDecode(b, conntrackRecords(b)) })
}

func benchmarkDecode(b *testing.B, recs []Record) {
	enc := NewEncoder(Options{Hostname: "fw1.example.net"})
	b.ReportAllocs()
	b.ResetTimer()
	var n int
	for i := 0; i < b.N; i++ {
		ev := enc.Encode(&recs[i%len(recs)])
		n += len(ev.JSON)
	}
	b.SetBytes(int64(n / b.N))
}

// TestEncodeAllocs holds the budget of zero allocations per event once the
// encoder's buffers have grown.
func TestEncodeAllocs(t *testing.T) {
	recs := append(benchRecords(t), conntrackRecords(t)...)
	enc := NewEncoder(Options{Hostname: "fw1", Flags: FlagsAll, Actions: map[string]string{"X ": "drop"}})
	for i := range recs {
		enc.Encode(&recs[i])
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		enc.Encode(&recs[i%len(recs)])
		i++
	})
	if allocs != 0 {
		t.Fatalf("Encode allocates %.1f times per event, want 0", allocs)
	}
}
