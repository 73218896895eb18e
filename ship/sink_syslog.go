package ship

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nflog-agent/nflog-agent/internal/redact"
	"github.com/nflog-agent/nflog-agent/internal/setting"
	"github.com/nflog-agent/nflog-agent/ship/internal/relp"
	"github.com/nflog-agent/nflog-agent/ship/internal/rfc5424"
)

// Framings and formats of syslog sinks.
const (
	FramingOctetCounted = "octet-counted"
	FramingLF           = "lf"
	FormatKernel        = "kernel" // MSG is the kernel's line
	FormatJSON          = "json"   // MSG is the ECS document
)

// Sekoia's syslog intake: the ports of its rsyslog recipe, and the frame's
// fixed parts.
const (
	sekoiaSyslogPort = "10514"
	sekoiaRELPPort   = "11514"
	sekoiaSDID       = "SEKOIA@53288"
)

func secureTransport(t string) bool { return t == TransportTLS || t == TransportRELPTLS }

func checkAddress(addr string) error {
	if addr == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || port == "" {
		return fmt.Errorf("address %q: want HOST:PORT", addr)
	}
	return nil
}

// syslogHeader builds the RFC 5424 header fields of a syslog sink from its
// (defaulted) configuration; errors are KeyErrors on the setting at fault.
func syslogHeader(c *SinkConfig) (rfc5424.Header, error) {
	h := rfc5424.Header{AppName: c.AppName, ProcID: c.ProcID, MsgID: c.MsgID}
	var err error
	if h.Facility, err = rfc5424.Facility(c.Facility); err != nil {
		return h, &setting.Error{Key: "facility", Err: err}
	}
	if h.Severity, err = rfc5424.Severity(c.Severity); err != nil {
		return h, &setting.Error{Key: "severity", Err: err}
	}
	for _, f := range []struct{ key, v string }{{"app_name", h.AppName}, {"procid", h.ProcID}, {"msgid", h.MsgID}} {
		if err := rfc5424.CheckField(f.key, f.v); err != nil {
			return h, &setting.Error{Key: f.key, Err: err}
		}
	}
	sd := c.StructuredData
	if sd.ID == "" {
		if len(sd.Params) > 0 {
			return h, &setting.Error{Key: "structured_data.id", Err: errors.New("required with params")}
		}
		return h, nil
	}
	el := rfc5424.Element{ID: sd.ID}
	names := make([]string, 0, len(sd.Params))
	for n := range sd.Params {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		el.Params = append(el.Params, rfc5424.Param{Name: n, Value: sd.Params[n]})
	}
	if h.SD, err = el.Render(); err != nil {
		return h, &setting.Error{Key: "structured_data", Err: err}
	}
	return h, nil
}

// syslogSink sends events as RFC 5424 messages over one connection: TCP or
// TLS with octet-counted or LF framing, or a RELP session (in the clear or
// over TLS). Sends are serialised: messages leave in spool order.
//
// Over TCP and TLS a batch counts as delivered once the kernel took its
// bytes: what sits in the socket buffers when the peer dies is lost without
// notice. Before each batch the sink checks whether the peer closed the
// connection, which saves the batches that would follow a server's orderly
// shutdown. Over RELP a message counts as delivered only when the server
// answered 200 for it; messages answered otherwise are sent again.
type syslogSink struct {
	addr    string
	tls     *tls.Config // nil in the clear
	relp    bool
	lf      bool   // LF framing instead of octet counting
	json    bool   // MSG is the ECS document
	trailer []byte // appended to every MSG (Sekoia's recipe ends it with LF)
	header  rfc5424.Header
	timeout time.Duration
	st      *counters

	mu    sync.Mutex
	conn  net.Conn
	sess  *relp.Conn
	buf   []byte              // the batch's frames or RELP messages
	msg   []byte              // one message, before octet counting
	ends  []int               // RELP: end of each message in buf
	msgs  [][]byte            // RELP: the messages of one Send
	acked map[string]struct{} // RELP: event ids answered 200 in a failed attempt
}

func newSyslogSink(c *SinkConfig, st *counters) (*syslogSink, error) {
	h, err := syslogHeader(c)
	if err != nil {
		return nil, err
	}
	s := &syslogSink{
		addr: c.Address, relp: c.Transport == TransportRELP || c.Transport == TransportRELPTLS,
		lf: c.Framing == FramingLF, json: c.Format == FormatJSON, header: h, timeout: c.Timeout, st: st,
	}
	if secureTransport(c.Transport) {
		if s.tls, err = c.TLS.build(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// newSekoiaSyslogSink sends to Sekoia's syslog intake the frame of Sekoia's
// rsyslog recipe: `<PRI>1 TIMESTAMP HOSTNAME kernel - LOG
// [SEKOIA@53288 intake_key="KEY"] MSG` and LF, always over TLS.
func newSekoiaSyslogSink(c *SinkConfig, red *redact.Secrets, st *counters) (*syslogSink, error) {
	key, err := readSecret("intake key", c.IntakeKeyFile, c.IntakeKeyEnv)
	if err != nil {
		return nil, err
	}
	red.Add(key)
	addr := sekoiaSyslogAddr(c)
	if addr == "" {
		return nil, fmt.Errorf("unknown region %q: want fra1, fra2, mco1, uae1, usa1 or sgp1", c.Region)
	}
	sd, err := rfc5424.Element{ID: sekoiaSDID, Params: []rfc5424.Param{{Name: "intake_key", Value: key}}}.Render()
	if err != nil {
		return nil, err
	}
	transport := TransportRELPTLS
	if c.Transport == TransportSyslog {
		transport = TransportTLS
	}
	sc := SinkConfig{Address: addr, Transport: transport, Framing: FramingOctetCounted, Format: FormatKernel,
		AppName: "kernel", MsgID: "LOG", Facility: "kern", Severity: "warning", Timeout: c.Timeout, TLS: c.TLS}
	s, err := newSyslogSink(&sc, st)
	if err != nil {
		return nil, err
	}
	s.header.SD = sd
	s.trailer = []byte{'\n'}
	return s, nil
}

// sekoiaSyslogAddr is where a sekoia sink on the relp or syslog transport
// connects: its address, else its region's intake on the transport's port;
// "" for an unknown region.
func sekoiaSyslogAddr(c *SinkConfig) string {
	if c.Address != "" {
		return c.Address
	}
	host := sekoiaSyslogHost(c.Region)
	if host == "" {
		return ""
	}
	port := sekoiaRELPPort
	if c.Transport == TransportSyslog {
		port = sekoiaSyslogPort
	}
	return net.JoinHostPort(host, port)
}

// sekoiaSyslogHost returns the syslog intake host of a region, or "" when
// unknown.
func sekoiaSyslogHost(region string) string {
	if SekoiaURL(region) == "" {
		return ""
	}
	region = strings.ToLower(region)
	if region == "fra1" {
		return "intake.sekoia.io"
	}
	return "intake." + region + ".sekoia.io"
}

func (s *syslogSink) Send(ctx context.Context, events []Event) (result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	start := time.Now()
	defer func() { s.st.observe(time.Since(start)) }()
	if err := s.connect(ctx); err != nil {
		s.st.sendErrors.add(errKind(err), 1)
		return result{}, err
	}
	// Deadlines bound every wait; ending ctx (shutdown) ends them now.
	conn := s.conn
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	var res result
	var err error
	if s.relp {
		res, err = s.sendRELP(events)
	} else {
		err = s.sendStream(events)
	}
	if err != nil {
		var ferr *relp.FrameError
		if errors.As(err, &ferr) {
			s.st.sendErrors.add(errBadResponse, 1)
		} else {
			s.st.sendErrors.add(errKind(err), 1)
		}
		s.disconnect()
		return result{}, err
	}
	return res, nil
}

// connect dials when there is no connection, or when the peer closed the
// one there is (a RELP server may have ended an idle session).
func (s *syslogSink) connect(ctx context.Context) error {
	if s.conn != nil && s.peerClosed() {
		s.disconnect()
	}
	if s.conn != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var conn net.Conn
	var err error
	if s.tls != nil {
		conn, err = (&tls.Dialer{Config: s.tls}).DialContext(ctx, "tcp", s.addr)
	} else {
		conn, err = new(net.Dialer).DialContext(ctx, "tcp", s.addr)
	}
	if err != nil {
		return err
	}
	if s.relp {
		stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
		s.sess, err = relp.Open(conn, s.timeout)
		stop()
		if err != nil {
			conn.Close()
			return err
		}
	}
	s.conn = conn
	return nil
}

// peerClosed says whether the peer has closed the connection: between
// batches a syslog server sends nothing and a RELP server at most its
// serverclose, so anything but a timeout on an immediate read means the
// connection is gone.
func (s *syslogSink) peerClosed() bool {
	if s.sess != nil && s.sess.Unread() {
		return true
	}
	s.conn.SetReadDeadline(time.Now())
	var one [1]byte
	_, err := s.conn.Read(one[:])
	var nerr net.Error
	return !(errors.As(err, &nerr) && nerr.Timeout())
}

func (s *syslogSink) disconnect() {
	if s.conn != nil {
		s.conn.Close()
	}
	s.conn, s.sess = nil, nil
}

// appendMessage appends ev as an RFC 5424 message.
func (s *syslogSink) appendMessage(dst []byte, ev *Event) []byte {
	msg := ev.Message
	if s.json {
		msg = ev.JSON
	}
	dst = s.header.Append(dst, ev.Time, observerHostname(ev.JSON), msg)
	return append(dst, s.trailer...)
}

// sendStream writes the batch's frames; done means the kernel took them.
func (s *syslogSink) sendStream(events []Event) error {
	s.buf = s.buf[:0]
	for i := range events {
		if s.lf {
			s.buf = s.appendMessage(s.buf, &events[i])
			s.buf = append(s.buf, '\n')
			continue
		}
		s.msg = s.appendMessage(s.msg[:0], &events[i])
		s.buf = rfc5424.AppendOctetCounted(s.buf, s.msg)
	}
	s.conn.SetWriteDeadline(time.Now().Add(s.timeout))
	_, err := s.conn.Write(s.buf)
	s.shrink()
	return err
}

// sendRELP sends the batch over the RELP session. Events answered 200 in
// an attempt that then failed are remembered and skipped when the runner
// sends the batch again, so a lost session resends at most the window.
func (s *syslogSink) sendRELP(events []Event) (result, error) {
	s.buf, s.ends, s.msgs = s.buf[:0], s.ends[:0], s.msgs[:0]
	idx := make([]int, 0, len(events)) // message → batch index
	for i := range events {
		if _, ok := s.acked[string(events[i].ID)]; ok {
			continue
		}
		s.buf = s.appendMessage(s.buf, &events[i])
		s.ends = append(s.ends, len(s.buf))
		idx = append(idx, i)
	}
	begin := 0
	for _, end := range s.ends {
		s.msgs = append(s.msgs, s.buf[begin:end])
		begin = end
	}
	answers, err := s.sess.Send(s.msgs)
	clear(s.msgs)
	s.shrink()
	var res result
	for k, a := range answers {
		switch {
		case err != nil && a.OK():
			if s.acked == nil {
				s.acked = map[string]struct{}{}
			}
			s.acked[string(events[idx[k]].ID)] = struct{}{}
		case !a.OK():
			// A refusal (librelp answers 500 when it cannot take the
			// message now): sent again after a backoff.
			s.st.sendErrors.add(errBadResponse, 1)
			res.Retry = append(res.Retry, idx[k])
		}
	}
	if err != nil {
		return result{}, err
	}
	if len(s.acked) > 0 {
		for i := range events {
			delete(s.acked, string(events[i].ID))
		}
	}
	return res, nil
}

// shrink lets go of a buffer that one unusual batch grew far past the usual.
func (s *syslogSink) shrink() {
	if cap(s.buf) > 16<<20 {
		s.buf = nil
	}
}

func (s *syslogSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess != nil {
		s.conn.SetDeadline(time.Now().Add(time.Second))
		err := s.sess.Close()
		s.conn, s.sess = nil, nil
		return err
	}
	s.disconnect()
	return nil
}

// observerHostKey opens observer.hostname in the documents decode writes.
var observerHostKey = []byte(`"observer":{"hostname":"`)

// observerHostname returns observer.hostname from an ECS document, or nil.
// Decode writes the hostname first in observer, so one search finds it; a
// quote inside a string is escaped, so the key cannot match inside one.
func observerHostname(doc []byte) []byte {
	i := bytes.Index(doc, observerHostKey)
	if i < 0 {
		return nil
	}
	str := doc[i+len(observerHostKey)-1:] // from the opening quote
	escaped := false
	for end := 1; end < len(str); end++ {
		switch str[end] {
		case '\\':
			escaped = true
			end++
		case '"':
			if !escaped {
				return str[1:end]
			}
			var host string
			if json.Unmarshal(str[:end+1], &host) != nil {
				return nil
			}
			return []byte(host)
		}
	}
	return nil
}

// SyslogTarget returns where a syslog sink, or a sekoia sink on its syslog
// or RELP transport, connects, and whether over TLS; ok is false for other
// sinks and invalid configurations.
func SyslogTarget(c SinkConfig) (addr string, secure, ok bool) {
	c, err := c.withDefaults()
	switch {
	case err != nil:
		return "", false, false
	case c.Type == TypeSyslog:
		return c.Address, secureTransport(c.Transport), true
	case c.Type == TypeSekoia && c.Transport != TransportHTTPS:
		addr := sekoiaSyslogAddr(&c)
		return addr, true, addr != ""
	}
	return "", false, false
}
