// Package procnet finds which process holds an NFLOG group, from /proc:
// the kernel lists each group's listener by netlink port id in
// net/netfilter/nfnetlink_log, each netlink socket's port id and inode in
// net/netlink, and each process's sockets as socket:[inode] links in fd/.
// The net/ files describe the network namespace of the thread reading them,
// so callers pick the namespace by where they read from.
package procnet

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// NetlinkNetfilter is the netlink protocol number of nfnetlink (NFLOG,
// NFQUEUE, conntrack), NETLINK_NETFILTER.
const NetlinkNetfilter = 12

// NetlinkSocket is one line of /proc/net/netlink.
type NetlinkSocket struct {
	Protocol int
	PortID   uint32
	Inode    uint64
}

// ParseNetlink reads /proc/net/netlink: a header line, then
// "sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode" per socket, where
// Eth is the protocol and Pid the port id.
func ParseNetlink(r io.Reader) ([]NetlinkSocket, error) {
	var out []NetlinkSocket
	sc := bufio.NewScanner(r)
	for first := true; sc.Scan(); first = false {
		f := strings.Fields(sc.Text())
		if first || len(f) < 10 {
			continue
		}
		proto, err1 := strconv.Atoi(f[1])
		port, err2 := strconv.ParseUint(f[2], 10, 32)
		ino, err3 := strconv.ParseUint(f[9], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("procnet: netlink line %q: unexpected format", sc.Text())
		}
		out = append(out, NetlinkSocket{Protocol: proto, PortID: uint32(port), Inode: ino})
	}
	return out, sc.Err()
}

// NflogInstance is one line of /proc/net/netfilter/nfnetlink_log: a bound
// group and the port id of the socket that listens on it.
type NflogInstance struct {
	Group  uint16
	PortID uint32
}

// ParseNflogInstances reads /proc/net/netfilter/nfnetlink_log, whose lines
// are "group portid qlen copy_mode copy_range flush_timeout use".
func ParseNflogInstances(r io.Reader) ([]NflogInstance, error) {
	var out []NflogInstance
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		g, err1 := strconv.ParseUint(f[0], 10, 16)
		p, err2 := strconv.ParseUint(f[1], 10, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("procnet: nfnetlink_log line %q: unexpected format", sc.Text())
		}
		out = append(out, NflogInstance{Group: uint16(g), PortID: uint32(p)})
	}
	return out, sc.Err()
}

// Process is a process holding a socket.
type Process struct {
	PID  int
	Comm string // the process name from /proc/PID/comm, e.g. "ulogd"
}

func (p Process) String() string { return fmt.Sprintf("%s (pid %d)", p.Comm, p.PID) }

// SocketOwners maps socket inodes to the processes that have them open, by
// reading every /proc/PID/fd under procRoot (normally "/proc"). Processes
// that vanish or whose fds cannot be read are skipped: the answer is best
// effort, for a diagnostic.
func SocketOwners(procRoot string, inodes map[uint64]bool) map[uint64][]Process {
	out := map[uint64][]Process{}
	dirs, _ := os.ReadDir(procRoot)
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		fdDir := filepath.Join(procRoot, d.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		var comm string
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			ino, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]"), 10, 64)
			if err != nil || !inodes[ino] {
				continue
			}
			if comm == "" {
				b, _ := os.ReadFile(filepath.Join(procRoot, d.Name(), "comm"))
				comm = strings.TrimSpace(string(b))
				if comm == "" {
					comm = "?"
				}
			}
			if ps := out[ino]; len(ps) == 0 || ps[len(ps)-1].PID != pid {
				out[ino] = append(ps, Process{PID: pid, Comm: comm})
			}
		}
	}
	return out
}

// GroupHolders says who listens on an NFLOG group. It reads the nflog
// instance list and the netlink socket list from netDir (e.g.
// /proc/thread-self/net), then the owners from procRoot. exact is false when
// the instance list could not be read (it is root-only): the result is then
// every process with a NETLINK_NETFILTER socket, the candidates.
func GroupHolders(netDir, procRoot string, group uint16) (holders []Process, exact bool, err error) {
	nl, err := os.Open(filepath.Join(netDir, "netlink"))
	if err != nil {
		return nil, false, fmt.Errorf("procnet: %w", err)
	}
	defer nl.Close()
	socks, err := ParseNetlink(nl)
	if err != nil {
		return nil, false, err
	}
	port, exact := uint32(0), false
	if f, err := os.Open(filepath.Join(netDir, "netfilter", "nfnetlink_log")); err == nil {
		insts, perr := ParseNflogInstances(f)
		f.Close()
		if perr == nil {
			exact = true
			found := false
			for _, in := range insts {
				if in.Group == group {
					port, found = in.PortID, true
				}
			}
			if !found {
				return nil, true, nil // nobody listens
			}
		}
	}
	inodes := map[uint64]bool{}
	for _, s := range socks {
		if s.Protocol == NetlinkNetfilter && (!exact || s.PortID == port) {
			inodes[s.Inode] = true
		}
	}
	seen := map[int]bool{}
	for _, ps := range SocketOwners(procRoot, inodes) {
		for _, p := range ps {
			if !seen[p.PID] {
				seen[p.PID] = true
				holders = append(holders, p)
			}
		}
	}
	slices.SortFunc(holders, func(a, b Process) int { return a.PID - b.PID })
	return holders, exact, nil
}
