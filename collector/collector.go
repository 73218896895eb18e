// Package collector reads netfilter NFLOG groups over netlink and turns each
// logged packet into a decode.Record. It owns everything netlink: one
// socket per group (opened with go-nflog, bound and read by its own loop),
// socket buffers and ENOBUFS, loss accounting from sequence numbers, and the
// interface-name cache. No netlink type leaves the package.
package collector

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/nflog-agent/nflog-agent/collector/ctmirror"
	"github.com/nflog-agent/nflog-agent/collector/internal/ifcache"
)

// Config is what a Collector listens to.
type Config struct {
	NetNS  int // network namespace fd; 0 = the caller's
	Groups []GroupConfig
	Logger *slog.Logger
	// ConntrackMaxEntries bounds the ctnetlink mirror, shared by the
	// groups that need it (0: ctmirror.DefaultMaxEntries).
	ConntrackMaxEntries int
}

// Collector is a set of Groups in one network namespace sharing an
// interface-name cache.
type Collector struct {
	names      *ifcache.Cache
	groups     []*Group
	mirror     *ctmirror.Mirror // opened by the first group that needs it
	maxEntries int
}

// Open starts the interface-name cache and every group. If any group cannot
// be opened, nothing is left running and the error names the group.
func Open(cfg Config) (*Collector, error) {
	if len(cfg.Groups) == 0 {
		return nil, errors.New("collector: no groups configured")
	}
	seen := make(map[uint16]bool)
	for _, gc := range cfg.Groups {
		if seen[gc.Group] {
			return nil, fmt.Errorf("collector: group %d configured twice", gc.Group)
		}
		seen[gc.Group] = true
	}
	names, err := ifcache.Open(cfg.NetNS)
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	c := &Collector{names: names, maxEntries: cfg.ConntrackMaxEntries}
	if c.maxEntries <= 0 {
		c.maxEntries = ctmirror.DefaultMaxEntries
	}
	openMirror := func() (*ctmirror.Mirror, error) {
		if c.mirror != nil {
			return c.mirror, nil
		}
		m, err := ctmirror.Open(ctmirror.Options{NetNS: cfg.NetNS, MaxEntries: c.maxEntries, Logger: cfg.Logger})
		c.mirror = m
		return m, err
	}
	for _, gc := range cfg.Groups {
		g, err := OpenGroup(gc, GroupOptions{NetNS: cfg.NetNS, Names: names, Logger: cfg.Logger, Conntrack: openMirror})
		if err != nil {
			c.Close()
			return nil, err
		}
		c.groups = append(c.groups, g)
	}
	return c, nil
}

// Groups returns the groups in configuration order.
func (c *Collector) Groups() []*Group { return c.groups }

// Stats returns a snapshot of every group's counters.
func (c *Collector) Stats() []Stats {
	s := make([]Stats, len(c.groups))
	for i, g := range c.groups {
		s[i] = g.Stats()
	}
	return s
}

// ConntrackStats returns the ctnetlink mirror's counters, and false when no
// group needed it.
func (c *Collector) ConntrackStats() (ctmirror.Stats, bool) {
	if c.mirror == nil {
		return ctmirror.Stats{}, false
	}
	return c.mirror.Stats(), true
}

// ConntrackMaxEntries is the bound of the ctnetlink mirror.
func (c *Collector) ConntrackMaxEntries() int { return c.maxEntries }

// Close stops every group (closing their Records channels once their
// enrichment stages have passed on what they held), the conntrack mirror
// and the name cache.
func (c *Collector) Close() error {
	for _, g := range c.groups {
		g.Close()
	}
	if c.mirror != nil {
		c.mirror.Close()
	}
	return c.names.Close()
}
