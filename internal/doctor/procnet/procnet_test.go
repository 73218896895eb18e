package procnet

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const netlinkSample = `sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode
00000000bdbf3a73 0   0          00000000 0        0        0     2        0        4       
000000006a2b5c1d 12  812        00000000 0        0        0     2        0        23456   
00000000aa2b5c1d 12  4294960001 00000000 0        0        0     2        0        23457   
0000000036ee7521 4   0          00000000 0        0        0     2        0        1503    
`

func TestParseNetlink(t *testing.T) {
	got, err := ParseNetlink(strings.NewReader(netlinkSample))
	if err != nil {
		t.Fatal(err)
	}
	want := []NetlinkSocket{{0, 0, 4}, {12, 812, 23456}, {12, 4294960001, 23457}, {4, 0, 1503}}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("socket %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if _, err := ParseNetlink(strings.NewReader("header\nx y z 1 2 3 4 5 6 7\n")); err == nil {
		t.Error("garbage accepted")
	}
}

func TestParseNflogInstances(t *testing.T) {
	// The kernel's format: "%5u %6u %5u %1u %5u %6u %2u\n".
	got, err := ParseNflogInstances(strings.NewReader("  100    812     0 2  1024      5  1\n    7 4294960001     3 2 65535    100  1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != (NflogInstance{100, 812}) || got[1] != (NflogInstance{7, 4294960001}) {
		t.Errorf("got %+v", got)
	}
	if _, err := ParseNflogInstances(strings.NewReader("abc def\n")); err == nil {
		t.Error("garbage accepted")
	}
}

// SocketOwners finds this very process through a socket it opens, in the
// real /proc.
func TestSocketOwnersSelf(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	ino, err := strconv.ParseUint(strings.Trim(strings.TrimPrefix(link, "socket:"), "[]"), 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", link, err)
	}
	owners := SocketOwners("/proc", map[uint64]bool{ino: true})
	ps := owners[ino]
	if len(ps) != 1 || ps[0].PID != os.Getpid() || ps[0].Comm == "" {
		t.Errorf("owners of socket %d: %v, want this process (pid %d)", ino, ps, os.Getpid())
	}
}

// GroupHolders with a fake /proc: the exact path through nfnetlink_log, the
// fallback to every nfnetlink socket when that file is missing, and a group
// nobody holds.
func TestGroupHolders(t *testing.T) {
	root := t.TempDir()
	netDir := filepath.Join(root, "net")
	os.MkdirAll(filepath.Join(netDir, "netfilter"), 0o755)
	os.WriteFile(filepath.Join(netDir, "netlink"), []byte(netlinkSample), 0o644)
	os.WriteFile(filepath.Join(netDir, "netfilter", "nfnetlink_log"), []byte("  100    812     0 2  1024      5  1\n"), 0o644)
	for pid, p := range map[string]struct{ comm, ino string }{"812": {"ulogd", "23456"}, "900": {"conntrack", "23457"}} {
		os.MkdirAll(filepath.Join(root, pid, "fd"), 0o755)
		os.WriteFile(filepath.Join(root, pid, "comm"), []byte(p.comm+"\n"), 0o644)
		os.Symlink("socket:["+p.ino+"]", filepath.Join(root, pid, "fd", "3"))
		os.Symlink("/dev/null", filepath.Join(root, pid, "fd", "0"))
	}
	hs, exact, err := GroupHolders(netDir, root, 100)
	if err != nil || !exact || len(hs) != 1 || hs[0] != (Process{812, "ulogd"}) || hs[0].String() != "ulogd (pid 812)" {
		t.Errorf("group 100: %v exact=%v err=%v", hs, exact, err)
	}
	if hs, exact, err := GroupHolders(netDir, root, 101); err != nil || !exact || len(hs) != 0 {
		t.Errorf("group 101: %v exact=%v err=%v, want nobody", hs, exact, err)
	}
	os.Remove(filepath.Join(netDir, "netfilter", "nfnetlink_log"))
	hs, exact, err = GroupHolders(netDir, root, 100)
	if err != nil || exact || len(hs) != 2 || hs[0].PID != 812 || hs[1].PID != 900 {
		t.Errorf("without nfnetlink_log: %v exact=%v err=%v, want both candidates", hs, exact, err)
	}
	if _, _, err := GroupHolders(filepath.Join(root, "missing"), root, 100); err == nil {
		t.Error("missing netlink file: no error")
	}
}
