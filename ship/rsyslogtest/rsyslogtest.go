// Package rsyslogtest runs a private rsyslogd (Debian's rsyslog,
// rsyslog-gnutls, rsyslog-openssl and rsyslog-relp) for tests: its own
// configuration, work directory and pid file, listening on loopback ports
// with a throw-away CA, never the system's rsyslog service. It takes RFC
// 5424 messages on imtcp with TLS (octet-counted or LF framing, recognised
// by rsyslog) and on imrelp with TLS, and writes what each input received
// to two files: the parsed header fields, and the raw message.
package rsyslogtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/internal/testenv"
	"github.com/nflog-agent/nflog-agent/ship/tlstest"
)

// Fields is the template of the parsed files: every RFC 5424 header field
// as rsyslog parsed it, separated by '|', then MSG.
const Fields = `%hostname%|%timestamp:::date-rfc3339%|%app-name%|%procid%|%msgid%|%structured-data%|%msg%\n`

// RecipeKey is the intake key in the Recipe output.
const RecipeKey = "rsyslogtest-intake-key"

// Recipe is the template of Sekoia's rsyslog recipe, with RecipeKey: the
// recipe files show what rsyslog would forward to Sekoia for each message.
const Recipe = `<%pri%>1 %timestamp:::date-rfc3339% %hostname% %app-name% %procid% LOG [SEKOIA@53288 intake_key=\"` +
	RecipeKey + `\"] %msg%\n`

// Inputs of the server.
const (
	TCP  = "tcp"  // imtcp, TLS
	RELP = "relp" // imrelp, TLS
)

// Server is a running rsyslogd.
type Server struct {
	Addr   map[string]string // input → 127.0.0.1:PORT
	CAFile string            // the CA a client needs to trust the server
	dir    string
	conf   string
	cmd    *exec.Cmd
	exited chan struct{}
}

// Require fails the test when rsyslogd is missing under CI=true (CI installs
// it), and skips it elsewhere.
func Require(t testing.TB) {
	t.Helper()
	if _, err := rsyslogd(); err != nil {
		testenv.Skipf(t, "rsyslogtest: rsyslogd not found (apt-get install rsyslog rsyslog-gnutls rsyslog-openssl rsyslog-relp): %v", err)
	}
}

// Start starts an rsyslogd on two free loopback ports and stops it when the
// test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	Require(t)
	dir := t.TempDir()
	ca, err := tlstest.NewCA("rsyslogtest CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Server("127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: map[string]string{}, CAFile: filepath.Join(dir, "ca.pem"), dir: dir, conf: filepath.Join(dir, "rsyslog.conf")}
	write(t, s.CAFile, ca.PEM)
	write(t, filepath.Join(dir, "cert.pem"), cert.CertPEM)
	write(t, filepath.Join(dir, "key.pem"), cert.KeyPEM)
	os.Mkdir(filepath.Join(dir, "work"), 0o700)
	for _, in := range []string{TCP, RELP} {
		s.Addr[in] = freePort(t)
	}
	write(t, s.conf, []byte(s.config()))
	s.start(t)
	t.Cleanup(s.stop)
	return s
}

func write(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// freePort returns a loopback address whose port was free a moment ago.
func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

func (s *Server) config() string {
	d := s.dir
	return fmt.Sprintf(`global(
  workDirectory="%[1]s/work"
  maxMessageSize="64k"
  defaultNetstreamDriverCAFile="%[1]s/ca.pem"
  defaultNetstreamDriverCertFile="%[1]s/cert.pem"
  defaultNetstreamDriverKeyFile="%[1]s/key.pem"
)
module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
module(load="imrelp" tls.tlslib="openssl")
template(name="fields" type="string" string="%[4]s")
template(name="raw" type="string" string="%%rawmsg%%\n")
template(name="recipe" type="string" string="%[5]s")
ruleset(name="tcp") {
  action(type="omfile" file="%[1]s/tcp.fields" template="fields")
  action(type="omfile" file="%[1]s/tcp.raw" template="raw")
  action(type="omfile" file="%[1]s/tcp.recipe" template="recipe")
}
ruleset(name="relp") {
  action(type="omfile" file="%[1]s/relp.fields" template="fields")
  action(type="omfile" file="%[1]s/relp.raw" template="raw")
  action(type="omfile" file="%[1]s/relp.recipe" template="recipe")
}
input(type="imtcp" address="127.0.0.1" port="%[2]s" ruleset="tcp")
input(type="imrelp" address="127.0.0.1" port="%[3]s" ruleset="relp" tls="on"
  tls.cacert="%[1]s/ca.pem" tls.mycert="%[1]s/cert.pem" tls.myprivkey="%[1]s/key.pem")
`, d, port(s.Addr[TCP]), port(s.Addr[RELP]), Fields, Recipe)
}

// rsyslogd finds the daemon: on the PATH, or where Debian puts it (/usr/sbin
// is not on every user's PATH).
func rsyslogd() (string, error) {
	path, err := exec.LookPath("rsyslogd")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/rsyslogd"); serr == nil {
			return "/usr/sbin/rsyslogd", nil
		}
	}
	return path, err
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	bin, err := rsyslogd()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-n", "-f", s.conf, "-i", filepath.Join(s.dir, "rsyslogd.pid"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("rsyslogtest: start rsyslogd: %v", err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func() {
		cmd.Wait()
		close(s.exited)
	}()
	for _, addr := range s.Addr {
		deadline := time.Now().Add(30 * time.Second)
		for {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-s.exited:
				t.Fatalf("rsyslogtest: rsyslogd exited: %s", out.String())
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("rsyslogtest: rsyslogd does not listen on %s: %s", addr, out.String())
			}
		}
	}
}

// Restart stops rsyslogd as a service manager would (SIGTERM, wait) and
// starts it again on the same ports.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.stop()
	s.start(t)
}

// Crash kills rsyslogd (SIGKILL: what it held in memory is gone) and
// starts it again on the same ports.
func (s *Server) Crash(t testing.TB) {
	t.Helper()
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
	s.start(t)
}

// Stop stops rsyslogd (SIGTERM, wait): its files are complete afterwards.
func (s *Server) Stop() { s.stop() }

func (s *Server) stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// Fields returns the lines of the fields file of input in (TCP or RELP),
// without their LF.
func (s *Server) Fields(t testing.TB, in string) []string { return s.lines(t, in+".fields") }

func (s *Server) lines(t testing.TB, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(s.dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// WaitFields waits until the fields file of input in has n lines and
// returns them; it fails the test when they have not come after a minute.
func (s *Server) WaitFields(t testing.TB, in string, n int) []string {
	t.Helper()
	return s.wait(t, in+".fields", n)
}

// WaitRaw is WaitFields for the raw messages, one per line.
func (s *Server) WaitRaw(t testing.TB, in string, n int) []string {
	t.Helper()
	return s.wait(t, in+".raw", n)
}

// WaitRecipes is WaitFields for what Sekoia's rsyslog recipe makes of the
// messages, one per line.
func (s *Server) WaitRecipes(t testing.TB, in string, n int) []string {
	t.Helper()
	return s.wait(t, in+".recipe", n)
}

func (s *Server) wait(t testing.TB, name string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		got := s.lines(t, name)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("rsyslogtest: %s: %d lines, want %d", name, len(got), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
