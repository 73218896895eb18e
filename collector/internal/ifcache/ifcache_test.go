package ifcache

import (
	"net"
	"testing"
	"time"

	"github.com/nflog-agent/nflog-agent/internal/netlab"
)

// Live (veth, as the lab has no dummy module everywhere): created, renamed and deleted interfaces show up from notifications.
func TestCacheFollowsLinks(t *testing.T) {
	netlab.Require(t)
	ns := netlab.NewNS(t, "i")
	c, err := Open(ns.Fd())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if got := c.Name(1); got != "lo" {
		t.Fatalf("index 1: %q, want lo", got)
	}
	if got := c.Name(0); got != "" {
		t.Errorf("index 0: %q", got)
	}

	ns.Run(t, "ip", "link", "add", "dum0", "type", "veth", "peer", "name", "dumpeer")
	idx := linkIndex(t, ns, "dum0")
	waitName(t, c, idx, "dum0")
	ns.Run(t, "ip", "link", "set", "dum0", "name", "dum1")
	waitName(t, c, idx, "dum1")
	ns.Run(t, "ip", "link", "del", "dum1")
	waitName(t, c, idx, "")
}

func waitName(t *testing.T, c *Cache, idx uint32, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.RLock()
		got := c.names[idx] // the map itself: Name would look a miss up directly
		c.mu.RUnlock()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("index %d: %q, want %q", idx, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func linkIndex(t *testing.T, ns *netlab.NS, name string) uint32 {
	t.Helper()
	var idx uint32
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(name)
		if err == nil {
			idx = uint32(ifi.Index)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return idx
}
