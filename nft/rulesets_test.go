package nft

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nflog-agent/nflog-agent/internal/netlab"
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
// invalid as DROP, over IPv4 and IPv6.
func testNflogAgent(t *testing.T) {
	ns := newNS(t, "a")
	ns.Run(t, "nft", "-f", "nflog-agent.nft")
	rs := listen(t, ns, 100)
	ns.MustDo(t, func() error {
		dialTCP("127.0.0.1:9001")
		dialTCP("[::1]:9002")
		return netlab.SendSynFin("127.0.0.1", "127.0.0.1", 9003)
	})
	rs.expect(t, "100 input IPTABLES: ACCEPT |tcp 127.0.0.1 -> 127.0.0.1:9001")
	rs.expect(t, "100 input IPTABLES: ACCEPT |tcp ::1 -> [::1]:9002")
	rs.expect(t, "100 input IPTABLES: DROP |tcp 127.0.0.1 -> 127.0.0.1:9003")
}

// sekoia-output.nft: every new TCP and UDP connection the host opens.
func testSekoiaOutput(t *testing.T) {
	ns := newNS(t, "s")
	ns.Run(t, "nft", "-f", "sekoia-output.nft")
	rs := listen(t, ns, 100)
	ns.MustDo(t, func() error {
		dialTCP("127.0.0.1:9011")
		return sendUDP("[::1]:9012")
	})
	rs.expect(t, "100 output IPTABLES: ACCEPT |tcp 127.0.0.1 -> 127.0.0.1:9011")
	rs.expect(t, "100 output IPTABLES: ACCEPT |udp ::1 -> [::1]:9012")
}

// input-drop.nft on fw: SSH from lan is let in and logged as ACCEPT, another
// port is logged as DROP and dropped.
func testInputDrop(t *testing.T) {
	r := newRouter(t)
	r.fw.Run(t, "nft", "-f", "input-drop.nft")
	rs := listen(t, r.fw, 100)
	r.lan.MustDo(t, func() error {
		dialTCP("10.231.0.2:22")
		return sendUDP("10.231.0.2:9021")
	})
	rs.expect(t, "100 input IPTABLES: ACCEPT |tcp 10.231.0.1 -> 10.231.0.2:22")
	rs.expect(t, "100 input IPTABLES: DROP |udp 10.231.0.1 -> 10.231.0.2:9021")
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
// nft policies it mirrors. CI installs only nftables, so this skips there
// unless iptables is installed too.
func testIptables(t *testing.T) {
	if _, err := exec.LookPath("iptables-restore"); err != nil {
		t.Skip("iptables-restore not found (apt-get install iptables)")
	}
	r := newRouter(t)
	r.fw.Run(t, "sh", "-c", "iptables-restore < iptables-nflog.rules")
	rs := listen(t, r.fw, 100)
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
}
