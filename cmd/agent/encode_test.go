package main

import (
	"bytes"
	"encoding/hex"
	"log/slog"
	"strings"
	"testing"

	"github.com/nflog-agent/nflog-agent/decode"
	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// panickingEncoder stands in for a decoder bug.
type panickingEncoder struct{}

func (panickingEncoder) Encode(*decode.Record) spool.Event { panic("index out of range [7]") }

// A record that makes the encoder panic is counted (encode reports it
// undecodable) and logged with the stack and the start of the record;
// further panics within the minute are only counted.
func TestEncodePanicIsLoggedWithStackAndRecord(t *testing.T) {
	var buf bytes.Buffer
	panics := &panicLog{log: slog.New(slog.NewTextHandler(&buf, nil))}
	payload := bytes.Repeat([]byte{0x45, 0x00}, 200) // 400 bytes: cut at panicBytes
	r := decode.Record{Group: 100, Prefix: "DROP ", Payload: payload}
	for range 3 {
		if _, ok := encode(panickingEncoder{}, &r, panics); ok {
			t.Fatal("encode reported success on a panic")
		}
	}
	out := buf.String()
	if n := strings.Count(out, "decoder bug"); n != 1 {
		t.Fatalf("%d panic lines, want 1:\n%s", n, out)
	}
	for _, want := range []string{
		"group=100", `panic="index out of range [7]"`, "payload=" + hex.EncodeToString(payload[:panicBytes]) + "...",
		"payload_len=400", "panickingEncoder.Encode",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, hex.EncodeToString(payload[:panicBytes+1])) {
		t.Error("the payload is not cut")
	}
}
