package relp

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Window is how many syslog frames may wait for their answer at once:
// librelp's own default.
const Window = 128

// software is what the client tells the server in its offers.
const software = "nflog-agent,1,https://github.com/nflog-agent/nflog-agent"

// errServerClosed is returned when the server ended the session
// (serverclose): it is shutting down, and every frame it has not answered
// must be sent again on a new session.
var errServerClosed = errors.New("relp: server closed the session")

// refusedError is a server that refused to open a session.
type refusedError struct{ Response Response }

func (e *refusedError) Error() string {
	return fmt.Sprintf("relp: session refused: %d %s", e.Response.Code, e.Response.Text)
}

// Conn is one RELP session over a connection. It is used by one goroutine
// at a time.
type Conn struct {
	c       net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	txnr    int // of the last frame sent
	timeout time.Duration
	buf     []byte
}

// Open starts a session on c: it sends the offers and waits for the
// server's 200. Every wait on the server (here and in Send) ends with an
// error after timeout.
func Open(c net.Conn, timeout time.Duration) (*Conn, error) {
	s := &Conn{c: c, r: bufio.NewReaderSize(c, 4<<10), w: bufio.NewWriterSize(c, 64<<10), timeout: timeout}
	offers := "relp_version=0\nrelp_software=" + software + "\ncommands=syslog"
	rsp, err := s.command("open", []byte(offers))
	if err != nil {
		return nil, err
	}
	if !rsp.OK() {
		return nil, &refusedError{rsp}
	}
	if !offersSyslog(rsp.Rest) {
		return nil, &refusedError{Response{Code: rsp.Code, Text: "the server does not offer the syslog command"}}
	}
	return s, nil
}

// offersSyslog says whether the server's offers include the syslog command.
func offersSyslog(offers []byte) bool {
	for line := range strings.SplitSeq(string(offers), "\n") {
		if cmds, ok := strings.CutPrefix(line, "commands="); ok {
			for c := range strings.SplitSeq(cmds, ",") {
				if c == "syslog" {
					return true
				}
			}
			return false
		}
	}
	return true // librelp servers may leave the list out: syslog is the default
}

// command sends one frame and waits for its answer, alone on the wire.
func (s *Conn) command(cmd string, data []byte) (Response, error) {
	txnr := s.next()
	s.buf = AppendFrame(s.buf[:0], Frame{Txnr: txnr, Command: cmd, Data: data})
	if _, err := s.w.Write(s.buf); err != nil {
		return Response{}, err
	}
	if err := s.flush(); err != nil {
		return Response{}, err
	}
	return s.answer(txnr)
}

func (s *Conn) next() int {
	s.txnr++
	if s.txnr > maxTxnr {
		s.txnr = 1
	}
	return s.txnr
}

func (s *Conn) flush() error {
	s.c.SetWriteDeadline(time.Now().Add(s.timeout))
	return s.w.Flush()
}

// answer reads the rsp frame for txnr; answers come in the order of the
// commands.
func (s *Conn) answer(txnr int) (Response, error) {
	s.c.SetReadDeadline(time.Now().Add(s.timeout))
	f, err := ReadFrame(s.r)
	if err != nil {
		return Response{}, err
	}
	switch {
	case f.Command == "serverclose":
		return Response{}, errServerClosed
	case f.Command != "rsp":
		return Response{}, &FrameError{fmt.Sprintf("unexpected command %q from the server", f.Command)}
	case f.Txnr != txnr:
		return Response{}, &FrameError{fmt.Sprintf("answer to transaction %d, want %d", f.Txnr, txnr)}
	}
	return ParseResponse(f.Data)
}

// Send sends msgs as syslog frames, keeping up to Window of them
// unanswered, and returns the answers in order: answers[i] is msgs[i]'s.
// When it fails (err != nil), msgs[len(answers):] have no answer and must
// be sent again on a new session; some may have reached the server.
func (s *Conn) Send(msgs [][]byte) (answers []Response, err error) {
	answers = make([]Response, 0, len(msgs))
	first := 0 // txnr of msgs[len(answers)]
	sent := 0
	for len(answers) < len(msgs) {
		for sent < len(msgs) && sent-len(answers) < Window {
			txnr := s.next()
			if sent == len(answers) {
				first = txnr
			}
			s.buf = AppendFrame(s.buf[:0], Frame{Txnr: txnr, Command: "syslog", Data: msgs[sent]})
			if _, err := s.w.Write(s.buf); err != nil {
				return answers, err
			}
			sent++
		}
		if err := s.flush(); err != nil {
			return answers, err
		}
		// Wait for one answer, then take every answer already received
		// before writing more: one flush per burst, not per message.
		for wait := true; wait || s.r.Buffered() > 0 && len(answers) < sent; wait = false {
			rsp, err := s.answer(first)
			if err != nil {
				return answers, err
			}
			answers = append(answers, rsp)
			if first++; first > maxTxnr {
				first = 1
			}
		}
	}
	return answers, nil
}

// Unread says whether the server sent something that was not read: once
// every answer is in, only a serverclose can be, so the session is over.
func (s *Conn) Unread() bool { return s.r.Buffered() > 0 }

// Close ends the session politely (close, then its answer) and closes the
// connection.
func (s *Conn) Close() error {
	_, err := s.command("close", nil)
	if errors.Is(err, errServerClosed) {
		err = nil
	}
	return errors.Join(err, s.c.Close())
}
