package relp

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"
)

// scriptedServer answers the client's frames with answer(frame), which
// returns the bytes to send back ("" for nothing), over loopback TCP (its
// buffers let the client write a window before reading).
func scriptedServer(t *testing.T, answer func(Frame) string) net.Conn {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	go func() {
		r := bufio.NewReader(server)
		for {
			f, err := ReadFrame(r)
			if err != nil {
				return
			}
			if out := answer(f); out != "" {
				if _, err := server.Write([]byte(out)); err != nil {
					return
				}
			}
		}
	}()
	return client
}

func rsp(txnr int, data string) string {
	return string(AppendFrame(nil, Frame{txnr, "rsp", []byte(data)}))
}

func openOK(f Frame) string { return rsp(f.Txnr, "200 OK\nrelp_version=0\ncommands=syslog") }

func TestOpenRefused(t *testing.T) {
	for name, answer := range map[string]string{
		"500":             rsp(1, "500 busy"),
		"no syslog offer": rsp(1, "200 OK\ncommands=other"),
	} {
		c := scriptedServer(t, func(Frame) string { return answer })
		var rerr *refusedError
		if _, err := Open(c, time.Minute); !errors.As(err, &rerr) {
			t.Errorf("%s: %v, want a refusedError", name, err)
		}
	}
}

// Answers are matched to messages in order; a 500 is reported for its
// message only.
func TestSendWindowAnswers(t *testing.T) {
	c := scriptedServer(t, func(f Frame) string {
		switch {
		case f.Command == "open":
			return openOK(f)
		case string(f.Data) == "refuse me":
			return rsp(f.Txnr, "500 not now")
		}
		return rsp(f.Txnr, "200 OK")
	})
	s, err := Open(c, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	msgs := make([][]byte, 3*Window+5)
	for i := range msgs {
		msgs[i] = fmt.Appendf(nil, "m%d", i)
	}
	msgs[200] = []byte("refuse me")
	answers, err := s.Send(msgs)
	if err != nil || len(answers) != len(msgs) {
		t.Fatalf("%d answers, %v", len(answers), err)
	}
	for i, a := range answers {
		if a.OK() == (i == 200) {
			t.Errorf("message %d: %+v", i, a)
		}
	}
}

// A server that shuts down mid-window: the answered prefix is returned with
// errServerClosed, the rest must be sent again.
func TestSendServerClose(t *testing.T) {
	n := 0
	c := scriptedServer(t, func(f Frame) string {
		if f.Command == "open" {
			return openOK(f)
		}
		if n++; n == 10 {
			return "0 serverclose 0\n"
		}
		if n > 10 {
			return ""
		}
		return rsp(f.Txnr, "200 OK")
	})
	s, err := Open(c, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	answers, err := s.Send(make([][]byte, 50))
	if !errors.Is(err, errServerClosed) || len(answers) != 9 {
		t.Fatalf("%d answers, %v; want 9 and errServerClosed", len(answers), err)
	}
}

// An answer to the wrong transaction is a protocol error, not a delivery.
func TestSendWrongTxnr(t *testing.T) {
	c := scriptedServer(t, func(f Frame) string {
		if f.Command == "open" {
			return openOK(f)
		}
		return rsp(f.Txnr+1, "200 OK")
	})
	s, err := Open(c, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var ferr *FrameError
	if answers, err := s.Send(make([][]byte, 1)); !errors.As(err, &ferr) || len(answers) != 0 {
		t.Fatalf("%d answers, %v", len(answers), err)
	}
}
