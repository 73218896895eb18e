// Package ifcache maps interface indexes to names for one network namespace.
// It is filled by one RTM_GETLINK dump and then kept current by rtnetlink
// link notifications (created, renamed, deleted interfaces), so a lookup is a
// map read, never a syscall per packet.
package ifcache

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// notifyBuffer is the receive buffer of the notification socket: large enough
// that a burst of link changes (a container host creating hundreds of veths)
// does not overflow it; if it does, the cache resynchronises with a dump.
const notifyBuffer = 1 << 20

// missRetry bounds how often an index that is unknown to the cache is looked
// up directly: a packet from an interface created a moment ago may beat its
// notification, but a stream of packets naming a deleted interface must not
// cost a syscall each.
const missRetry = time.Second

// Cache is an index → name map for one network namespace. It is safe for
// concurrent use.
type Cache struct {
	notify *netlink.Conn   // multicast RTNLGRP_LINK subscription
	query  *rtnetlink.Conn // dumps and single-link lookups

	mu     sync.RWMutex
	names  map[uint32]string
	misses map[uint32]time.Time // last direct lookup of an unknown index

	done chan struct{}
}

// Open starts a cache for the network namespace given by netns (a namespace
// file descriptor; 0 means the caller's namespace).
func Open(netns int) (*Cache, error) {
	// Subscribe before dumping, so that no change falls between the two.
	notify, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: netns, Groups: unix.RTMGRP_LINK})
	if err != nil {
		return nil, fmt.Errorf("ifcache: subscribe to link notifications: %w", err)
	}
	query, err := rtnetlink.Dial(&netlink.Config{NetNS: netns})
	if err != nil {
		notify.Close()
		return nil, fmt.Errorf("ifcache: dial rtnetlink: %w", err)
	}
	c := &Cache{
		notify: notify,
		query:  query,
		names:  make(map[uint32]string),
		misses: make(map[uint32]time.Time),
		done:   make(chan struct{}),
	}
	// Best effort: a failure only means a resync dump after an overflow.
	_ = notify.SetReadBuffer(notifyBuffer)
	if err := c.resync(); err != nil {
		notify.Close()
		query.Close()
		return nil, err
	}
	go c.watch()
	return c, nil
}

// Name returns the name of the interface with the given index, or "" when
// there is none (index 0, or an interface that no longer exists).
func (c *Cache) Name(index uint32) string {
	if index == 0 {
		return ""
	}
	c.mu.RLock()
	name, ok := c.names[index]
	c.mu.RUnlock()
	if ok {
		return name
	}
	return c.lookupMiss(index)
}

// Close stops the notification watcher. Name keeps answering from the last
// known state.
func (c *Cache) Close() error {
	select {
	case <-c.done:
		return nil
	default:
	}
	close(c.done)
	err := c.notify.Close()
	if qerr := c.query.Close(); err == nil {
		err = qerr
	}
	return err
}

// lookupMiss asks the kernel about one index the cache does not know, at most
// once per missRetry per index.
func (c *Cache) lookupMiss(index uint32) string {
	now := time.Now()
	c.mu.Lock()
	if last, ok := c.misses[index]; ok && now.Sub(last) < missRetry {
		c.mu.Unlock()
		return ""
	}
	c.misses[index] = now
	c.mu.Unlock()

	msg, err := c.query.Link.Get(index)
	if err != nil || msg.Attributes == nil {
		return ""
	}
	c.set(index, msg.Attributes.Name)
	return msg.Attributes.Name
}

func (c *Cache) set(index uint32, name string) {
	c.mu.Lock()
	c.names[index] = name
	delete(c.misses, index)
	c.mu.Unlock()
}

func (c *Cache) remove(index uint32) {
	c.mu.Lock()
	delete(c.names, index)
	c.mu.Unlock()
}

// resync replaces the whole map with a fresh dump.
func (c *Cache) resync() error {
	links, err := c.query.Link.List()
	if err != nil {
		return fmt.Errorf("ifcache: list links: %w", err)
	}
	names := make(map[uint32]string, len(links))
	for _, l := range links {
		if l.Attributes != nil {
			names[l.Index] = l.Attributes.Name
		}
	}
	c.mu.Lock()
	c.names = names
	c.mu.Unlock()
	return nil
}

// watch applies link notifications until Close. Any receive or parse error
// (ENOBUFS after a burst, a message the library cannot unpack) is answered
// with a full resync, so the cache never stays wrong.
func (c *Cache) watch() {
	backoff := 10 * time.Millisecond
	for {
		msgs, err := c.notify.Receive()
		select {
		case <-c.done:
			return
		default:
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed) || errors.Is(err, unix.EBADF) {
				return
			}
			// Wait a little so a persistent error cannot spin.
			select {
			case <-c.done:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			_ = c.resync()
			continue
		}
		backoff = 10 * time.Millisecond
		for _, m := range msgs {
			if err := c.apply(m); err != nil {
				_ = c.resync()
				break
			}
		}
	}
}

// apply updates the map from one notification. Each message is unpacked on
// its own, so one the library cannot parse costs a resync, not the batch.
func (c *Cache) apply(m netlink.Message) error {
	t := m.Header.Type
	if t != unix.RTM_NEWLINK && t != unix.RTM_DELLINK {
		return nil
	}
	var lm rtnetlink.LinkMessage
	if err := lm.UnmarshalBinary(m.Data); err != nil {
		return err
	}
	if t == unix.RTM_DELLINK {
		c.remove(lm.Index)
		return nil
	}
	if lm.Attributes != nil && lm.Attributes.Name != "" {
		c.set(lm.Index, lm.Attributes.Name)
	}
	return nil
}
