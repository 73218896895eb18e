package rfc5424

import (
	"strings"
	"testing"
	"time"
)

func TestAppend(t *testing.T) {
	sd, err := Element{ID: "SEKOIA@53288", Params: []Param{{"intake_key", `k"e]y\`}}}.Render()
	if err != nil {
		t.Fatal(err)
	}
	h := Header{Facility: 16, Severity: 6, AppName: "kernel", MsgID: "LOG", SD: sd}
	at := time.Date(2026, 12, 6, 14, 0, 1, 123456789, time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		t         time.Time
		host, msg string
		want      string
	}{
		{at, "fw1", "IN=eth0 ", `<134>1 2026-12-06T13:00:01.123456Z fw1 kernel - LOG [SEKOIA@53288 intake_key="k\"e\]y\\"] IN=eth0 `},
		{time.Time{}, "", "", `<134>1 - - kernel - LOG [SEKOIA@53288 intake_key="k\"e\]y\\"]`},
		{at, "f w\xff1", "x", `<134>1 2026-12-06T13:00:01.123456Z f_w_1 kernel - LOG [SEKOIA@53288 intake_key="k\"e\]y\\"] x`},
		{at, strings.Repeat("h", 300), "x", "<134>1 2026-12-06T13:00:01.123456Z " + strings.Repeat("h", 255) + ` kernel - LOG [SEKOIA@53288 intake_key="k\"e\]y\\"] x`},
	} {
		if got := string(h.Append(nil, tc.t, []byte(tc.host), []byte(tc.msg))); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
	if got := string(AppendOctetCounted([]byte("x"), []byte("héllo"))); got != "x6 héllo" {
		t.Errorf("octet counted: %q", got)
	}
}

func TestValidate(t *testing.T) {
	for _, h := range []Header{
		{Facility: 24}, {Severity: -1}, {AppName: strings.Repeat("a", 49)}, {ProcID: "a b"}, {MsgID: "é"},
	} {
		if h.Validate() == nil {
			t.Errorf("%+v: valid", h)
		}
	}
	if err := (&Header{Facility: 23, Severity: 7, AppName: "nflog-agent", MsgID: "LOG"}).Validate(); err != nil {
		t.Error(err)
	}
	for _, e := range []Element{{ID: ""}, {ID: "a=b"}, {ID: "ok", Params: []Param{{"bad name", "v"}}}, {ID: strings.Repeat("i", 33)}} {
		if _, err := e.Render(); err == nil {
			t.Errorf("%+v rendered", e)
		}
	}
}

func TestNames(t *testing.T) {
	for name, want := range map[string]int{"kern": 0, "LOCAL7": 23, "local0": 16, "authpriv": 10} {
		if got, err := Facility(name); err != nil || got != want {
			t.Errorf("facility %s: %d, %v", name, got, err)
		}
	}
	for name, want := range map[string]int{"warning": 4, "warn": 4, "err": 3, "error": 3, "debug": 7, "emerg": 0} {
		if got, err := Severity(name); err != nil || got != want {
			t.Errorf("severity %s: %d, %v", name, got, err)
		}
	}
	if _, err := Facility("local8"); err == nil {
		t.Error("local8 accepted")
	}
	if _, err := Severity("loud"); err == nil {
		t.Error("loud accepted")
	}
}
