package relp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadFrame(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Frame
		err  string
	}{
		{in: "1 rsp 6 200 OK\n", want: Frame{Txnr: 1, Command: "rsp", Data: []byte("200 OK")}},
		{in: "0 serverclose 0\n", want: Frame{Command: "serverclose"}},
		{in: "7 rsp 0\n", want: Frame{Txnr: 7, Command: "rsp"}},
		{in: "999999999 rsp 3 500\n", want: Frame{Txnr: 999999999, Command: "rsp", Data: []byte("500")}},
		{in: "1 rsp 10 200 OK\nx=y\n", want: Frame{Txnr: 1, Command: "rsp", Data: []byte("200 OK\nx=y")}},
		{in: "1000000000 rsp 0\n", err: "number too long"},
		{in: "x rsp 0\n", err: "number expected"},
		{in: "1 RSP 0\n", err: "lower-case"},
		{in: "1  0\n", err: "empty command"},
		{in: "1 rsp 6 200 OK!", err: "no LF"},
		{in: "1 rsp 999999 x", err: "over the"},
		{in: "1 rsp 6x200 OK\n", err: "no space before"},
		{in: "1 rsp 6 200", err: io.ErrUnexpectedEOF.Error()},
		{in: "1 rsp", err: io.ErrUnexpectedEOF.Error()},
		{in: "1 " + strings.Repeat("a", 33) + " 0\n", err: "command too long"},
	} {
		got, err := ReadFrame(bufio.NewReader(strings.NewReader(tc.in)))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got.Txnr != tc.want.Txnr || got.Command != tc.want.Command || !bytes.Equal(got.Data, tc.want.Data) {
			t.Errorf("%q: got %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	if _, err := ReadFrame(bufio.NewReader(strings.NewReader(""))); err != io.EOF {
		t.Errorf("empty stream: %v, want io.EOF", err)
	}
}

func TestParseResponse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Response
		err  bool
	}{
		{in: "200 OK", want: Response{Code: 200, Text: "OK"}},
		{in: "200 OK\nrelp_version=0\ncommands=syslog", want: Response{Code: 200, Text: "OK", Rest: []byte("relp_version=0\ncommands=syslog")}},
		{in: "500 queue full", want: Response{Code: 500, Text: "queue full"}},
		{in: "200", want: Response{Code: 200}},
		{in: "20", err: true},
		{in: "2x0 OK", err: true},
		{in: "200OK", err: true},
	} {
		got, err := ParseResponse([]byte(tc.in))
		if tc.err != (err != nil) || got.Code != tc.want.Code || got.Text != tc.want.Text || !bytes.Equal(got.Rest, tc.want.Rest) {
			t.Errorf("%q: got %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

// FuzzReadFrame reads server bytes: no input may panic or make the reader
// take more than it was given, and every frame read writes back to the
// bytes it came from and reads again to the same frame.
func FuzzReadFrame(f *testing.F) {
	for _, s := range []string{
		"1 rsp 6 200 OK\n", "0 serverclose 0\n", "2 rsp 0\n", "1 rsp 92 200 OK\nrelp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\ncommands=syslog\n",
		"3 rsp 17 500 not accepted\n4 rsp 6 200 OK\n", "1 rsp 131073 ", "12345678901 rsp 0\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bufio.NewReader(bytes.NewReader(in))
		read := 0
		for {
			fr, err := ReadFrame(r)
			if err != nil {
				var ferr *FrameError
				if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.As(err, &ferr) {
					t.Fatalf("unexpected error type %T: %v", err, err)
				}
				return
			}
			wire := AppendFrame(nil, fr)
			if len(fr.Data) > MaxData || fr.Txnr > maxTxnr {
				t.Fatalf("frame past the limits: %d bytes, txnr %d", len(fr.Data), fr.Txnr)
			}
			again, err := ReadFrame(bufio.NewReader(bytes.NewReader(wire)))
			if err != nil || again.Txnr != fr.Txnr || again.Command != fr.Command || !bytes.Equal(again.Data, fr.Data) {
				t.Fatalf("round trip of %q: %+v, %v", wire, again, err)
			}
			read += len(wire)
			if read > len(in) {
				t.Fatalf("frames of %d bytes from %d bytes of input", read, len(in))
			}
			if fr.Command == "rsp" {
				if rsp, err := ParseResponse(fr.Data); err == nil && (rsp.Code < 0 || rsp.Code > 999) {
					t.Fatalf("code %d", rsp.Code)
				}
			}
		}
	})
}
