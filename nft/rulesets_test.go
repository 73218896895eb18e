package nft

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nflog-agent/nflog-agent/internal/netlab"
	"github.com/nflog-agent/nflog-agent/internal/testenv"
)

// labTests maps every shipped ruleset to the test that loads it and checks
// its logs reach the agent; TestEveryRulesetIsTested keeps the map complete.
var labTests = map[string]func(t *testing.T){
	"nflog-agent.nft":      testNflogAgent,
	"sekoia-output.nft":    testSekoiaOutput,
	"input-drop.nft":       testInputDrop,
	"forward.nft":          testForward,
	"iptables-nflog.rules": testIptables,
}

func TestRulesets(t *testing.T) {
	for name, test := range labTests {
		t.Run(name, func(t *testing.T) {
			netlab.Require(t)
			test(t)
		})
	}
}

// A ruleset added to nft/ without a lab test would ship untested.
func TestEveryRulesetIsTested(t *testing.T) {
	files, _ := filepath.Glob("*.nft")
	more, _ := filepath.Glob("*.rules")
	for _, f := range append(files, more...) {
		if labTests[f] == nil {
			t.Errorf("%s has no entry in labTests", f)
		}
	}
}

// The conventions every shipped log rule follows, checked without root: group
// 100 (the agent's default), a prefix the agent turns into action.name
// accept or drop, and a rate limit in the same rule.
func TestLogRuleConventions(t *testing.T) {
	prefix := regexp.MustCompile(`prefix "([^"]*)"`)
	for name := range labTests {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		logs := 0
		for i, line := range strings.Split(string(data), "\n") {
			code, _, _ := strings.Cut(line, "#")
			nftLog := strings.Contains(code, " log ")
			iptLog := strings.Contains(code, "-j NFLOG")
			if !nftLog && !iptLog {
				continue
			}
			logs++
			where := fmt.Sprintf("%s:%d", name, i+1)
			m := prefix.FindStringSubmatch(code)
			if m == nil || (m[1] != "IPTABLES: ACCEPT " && m[1] != "IPTABLES: DROP ") {
				t.Errorf("%s: prefix must be \"IPTABLES: ACCEPT \" or \"IPTABLES: DROP \": %s", where, line)
			}
			group, limit := " group 100", "limit rate "
			if iptLog {
				group, limit = "--nflog-group 100", "-m limit --limit "
			}
			if !strings.Contains(code+" ", group+" ") {
				t.Errorf("%s: not logged to group 100: %s", where, line)
			}
			if !strings.Contains(code, limit) {
				t.Errorf("%s: log rule without a rate limit: %s", where, line)
			}
		}
		if logs == 0 {
			t.Errorf("%s: no log rule", name)
		}
	}
}

// nflog-agent.nft (what `nflog-agent rules` prints by default): new
// connections that were let in are logged as ACCEPT, packets conntrack finds
// invalid as DROP, over IPv4 and IPv6; loopback traffic (a scrape of the
// agent's metrics) is not logged.
func testNflogAgent(t *testing.T) {
	l := netlab.NewFirewall(t, "nflog-agent.nft")
	rs := listen(t, l.B, 100)
	l.B.MustDo(t, func() error { return onLoopback(9000) })
	l.A.MustDo(t, func() error {
		dialTCP("10.231.0.2:9001")
		dialTCP("[fd00:231::2]:9002")
		return netlab.SendSynFin("10.231.0.1", "10.231.0.2", 9003)
	})
	rs.expect(t, "100 input IPTABLES: ACCEPT |tcp 10.231.0.1 -> 10.231.0.2:9001")
	rs.expect(t, "100 input IPTABLES: ACCEPT |tcp fd00:231::1 -> [fd00:231::2]:9002")
	rs.expect(t, "100 input IPTABLES: DROP |tcp 10.231.0.1 -> 10.231.0.2:9003")
	rs.only(t, 3) // the loopback packets came first: they would be in by now
}

// onLoopback opens a TCP connection over IPv4 and IPv6 loopback, sends a UDP
// datagram over each, and an invalid SYN+FIN packet: none of it may be
// logged by the shipped rulesets.
func onLoopback(port int) error {
	for _, host := range []string{"127.0.0.1", "::1"} {
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		dialTCP(addr)
		if err := sendUDP(addr); err != nil {
			return err
		}
	}
	return netlab.SendSynFin("127.0.0.1", "127.0.0.1", uint16(port))
}

// sekoia-output.nft: every new TCP and UDP connection the host opens, but
// those over loopback and those of the agent itself (the user nflog-agent).
func testSekoiaOutput(t *testing.T) {
	agentUser(t)
	l := netlab.NewFirewall(t, "sekoia-output.nft")
	rs := listen(t, l.B, 100)
	l.B.MustDo(t, func() error { return onLoopback(9010) })
	dialAsAgent(t, l.B, "10.231.0.1/9010")
	l.B.MustDo(t, func() error {
		dialTCP("10.231.0.1:9011")
		return sendUDP("[fd00:231::1]:9012")
	})
	rs.expect(t, "100 output IPTABLES: ACCEPT |tcp 10.231.0.2 -> 10.231.0.1:9011")
	rs.expect(t, "100 output IPTABLES: ACCEPT |udp fd00:231::2 -> [fd00:231::1]:9012")
	rs.only(t, 2)
}

// agentUser makes sure the user nflog-agent exists, as the package creates
// it: sekoia-output.nft and iptables-nflog.rules name it, and nft and
// iptables resolve the name when they load a rule. A user made here is
// removed at the end of the test.
func agentUser(t *testing.T) {
	t.Helper()
	if _, err := user.Lookup("nflog-agent"); err == nil {
		return
	}
	testenv.NeedCommand(t, "useradd", "passwd")
	netlab.Cmd(t, "useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "nflog-agent")
	t.Cleanup(func() { exec.Command("userdel", "nflog-agent").Run() })
}

// dialAsAgent opens a TCP connection to hostPort ("10.231.0.1/9010") from
// the namespace as the agent's user does, to check that it is not logged.
func dialAsAgent(t *testing.T, ns *netlab.NS, hostPort string) {
	t.Helper()
	ns.Run(t, "setpriv", "--reuid=nflog-agent", "--regid=nogroup", "--clear-groups",
		"bash", "-c", "exec 3<>/dev/tcp/"+hostPort+" || true")
}

// input-drop.nft on fw: SSH from lan is let in and logged as ACCEPT, another
// port is logged as DROP and dropped.
func testInputDrop(t *testing.T) {
	r := newRouter(t)
	r.fw.Run(t, "nft", "-f", "input-drop.nft")
	rs := listen(t, r.fw, 100)
	r.fw.MustDo(t, func() error { return onLoopback(9020) })
	r.lan.MustDo(t, func() error {
		dialTCP("10.231.0.2:22")
		return sendUDP("10.231.0.2:9021")
	})
	rs.expect(t, "100 input IPTABLES: ACCEPT |tcp 10.231.0.1 -> 10.231.0.2:22")
	rs.expect(t, "100 input IPTABLES: DROP |udp 10.231.0.1 -> 10.231.0.2:9021")
	rs.only(t, 2)
}

// forward.nft on fw: lan → wan is a new connection logged as ACCEPT,
// wan → lan is logged as DROP.
func testForward(t *testing.T) {
	r := newRouter(t)
	r.fw.Run(t, "nft", "-f", "forward.nft")
	rs := listen(t, r.fw, 100)
	r.lan.MustDo(t, func() error { return dialTCP("10.231.1.2:9031") })
	r.wan.MustDo(t, func() error { return sendUDP("10.231.0.1:9032") })
	rs.expect(t, "100 forward IPTABLES: ACCEPT |tcp 10.231.0.1 -> 10.231.1.2:9031")
	rs.expect(t, "100 forward IPTABLES: DROP |udp 10.231.1.2 -> 10.231.0.1:9032")
}

// iptables-nflog.rules through iptables-restore: the same logs as the three
// nft policies it mirrors.
func testIptables(t *testing.T) {
	testenv.NeedCommand(t, "iptables-restore", "iptables")
	agentUser(t)
	r := newRouter(t)
	r.fw.Run(t, "sh", "-c", "iptables-restore < iptables-nflog.rules")
	rs := listen(t, r.fw, 100)
	r.fw.MustDo(t, func() error { return onLoopback(9040) })
	dialAsAgent(t, r.fw, "10.231.1.2/9040")
	r.lan.MustDo(t, func() error {
		dialTCP("10.231.0.2:22")
		dialTCP("10.231.1.2:9041")
		return sendUDP("10.231.0.2:9042")
	})
	r.wan.MustDo(t, func() error { return sendUDP("10.231.0.1:9043") })
	r.fw.MustDo(t, func() error { return dialTCP("10.231.1.2:9044") })
	rs.expect(t, "100 input IPTABLES: ACCEPT |tcp 10.231.0.1 -> 10.231.0.2:22")
	rs.expect(t, "100 forward IPTABLES: ACCEPT |tcp 10.231.0.1 -> 10.231.1.2:9041")
	rs.expect(t, "100 input IPTABLES: DROP |udp 10.231.0.1 -> 10.231.0.2:9042")
	rs.expect(t, "100 forward IPTABLES: DROP |udp 10.231.1.2 -> 10.231.0.1:9043")
	rs.expect(t, "100 output IPTABLES: ACCEPT |tcp 10.231.1.1 -> 10.231.1.2:9044")
	rs.only(t, 5)
}
