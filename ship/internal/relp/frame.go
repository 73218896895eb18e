// Package relp is a client of the Reliable Event Logging Protocol as
// rsyslog's imrelp (librelp) speaks it: syslog messages sent with a window
// of unacknowledged frames, each one delivered only once the server
// answered "200 OK" for it.
package relp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Frame is one RELP frame: `TXNR SP COMMAND SP DATALEN [SP DATA] LF`.
type Frame struct {
	Txnr    int
	Command string
	Data    []byte
}

// Limits on what a frame from the server may hold. librelp answers with a
// few dozen bytes; its offers are the longest, well under MaxData.
const (
	maxTxnr    = 999999999
	maxCommand = 32
	MaxData    = 128 << 10
)

// FrameError is a frame that does not follow the protocol.
type FrameError struct{ Msg string }

func (e *FrameError) Error() string { return "relp: bad frame: " + e.Msg }

// AppendFrame appends the wire form of f to dst.
func AppendFrame(dst []byte, f Frame) []byte {
	dst = strconv.AppendInt(dst, int64(f.Txnr), 10)
	dst = append(dst, ' ')
	dst = append(dst, f.Command...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(len(f.Data)), 10)
	if len(f.Data) > 0 {
		dst = append(dst, ' ')
		dst = append(dst, f.Data...)
	}
	return append(dst, '\n')
}

// ReadFrame reads one frame. Untrusted input: every length is bounded, and
// anything that is not a well-formed frame is a *FrameError (io errors are
// returned as they are; a stream that ends inside a frame is
// io.ErrUnexpectedEOF).
func ReadFrame(r *bufio.Reader) (Frame, error) {
	var f Frame
	txnr, err := readNumber(r, 9, true)
	if err != nil {
		return f, err
	}
	if txnr > maxTxnr {
		return f, &FrameError{"transaction number out of range"}
	}
	f.Txnr = txnr
	cmd := make([]byte, 0, 8)
	for {
		c, err := r.ReadByte()
		if err != nil {
			return f, unexpected(err)
		}
		if c == ' ' {
			break
		}
		if c < 'a' || c > 'z' {
			return f, &FrameError{"command is not lower-case letters"}
		}
		if len(cmd) == maxCommand {
			return f, &FrameError{"command too long"}
		}
		cmd = append(cmd, c)
	}
	if len(cmd) == 0 {
		return f, &FrameError{"empty command"}
	}
	f.Command = string(cmd)
	n, err := readNumber(r, 9, false)
	if err != nil {
		return f, unexpected(err)
	}
	if n > MaxData {
		return f, &FrameError{fmt.Sprintf("data length %d over the %d limit", n, MaxData)}
	}
	sep, err := r.ReadByte()
	if err != nil {
		return f, unexpected(err)
	}
	if n > 0 {
		if sep != ' ' {
			return f, &FrameError{"no space before the data"}
		}
		f.Data = make([]byte, n)
		if _, err := io.ReadFull(r, f.Data); err != nil {
			return f, unexpected(err)
		}
		if sep, err = r.ReadByte(); err != nil {
			return f, unexpected(err)
		}
	}
	if sep != '\n' {
		return f, &FrameError{"no LF at the end of the frame"}
	}
	return f, nil
}

// readNumber reads a decimal number of 1 to digits digits ended by a space,
// which it consumes; with first, a clean end of stream before any byte is
// io.EOF. Without first the byte after the digits is left unread.
func readNumber(r *bufio.Reader, digits int, first bool) (int, error) {
	n, i := 0, 0
	for ; ; i++ {
		c, err := r.ReadByte()
		if err != nil {
			if i == 0 && first {
				return 0, err
			}
			return 0, unexpected(err)
		}
		if c < '0' || c > '9' {
			if i == 0 {
				return 0, &FrameError{"number expected"}
			}
			if first {
				if c != ' ' {
					return 0, &FrameError{"no space after the transaction number"}
				}
			} else {
				r.UnreadByte()
			}
			return n, nil
		}
		if i == digits {
			return 0, &FrameError{"number too long"}
		}
		n = n*10 + int(c-'0')
	}
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Response is the answer to one command: `CODE SP TEXT [LF OFFERS]`.
type Response struct {
	Code int
	Text string // the text after the code, up to the first LF
	Rest []byte // after the first LF (the server's offers in an open answer)
}

// OK says whether the server took the command over.
func (r Response) OK() bool { return r.Code == 200 }

// ParseResponse reads the data of an rsp frame.
func ParseResponse(data []byte) (Response, error) {
	var r Response
	if len(data) < 3 {
		return Response{}, &FrameError{"response shorter than a status code"}
	}
	for _, c := range data[:3] {
		if c < '0' || c > '9' {
			return Response{}, &FrameError{"response does not start with a status code"}
		}
		r.Code = r.Code*10 + int(c-'0')
	}
	rest := data[3:]
	if len(rest) > 0 {
		if rest[0] != ' ' && rest[0] != '\n' {
			return Response{}, &FrameError{"no space after the status code"}
		}
		if rest[0] == ' ' {
			rest = rest[1:]
		}
	}
	text := rest
	for i, c := range rest {
		if c == '\n' {
			text, r.Rest = rest[:i], rest[i+1:]
			break
		}
	}
	r.Text = string(text)
	return r, nil
}
