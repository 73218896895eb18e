package collector

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The kernel answers EPERM to the bind command when another socket owns the
// group, and to the first per-family command without CAP_NET_ADMIN.
func TestBindError(t *testing.T) {
	eperm := &netlink.OpError{Op: "receive", Err: os.NewSyscallError("recvmsg", unix.EPERM)}
	busy := bindError(100, groupStep(GroupConfig{Group: 100}, false), eperm)
	if !errors.Is(busy, ErrGroupBusy) || !strings.Contains(busy.Error(), "group 100") || !strings.Contains(busy.Error(), "ulogd2") {
		t.Errorf("busy: %v", busy)
	}
	if strings.Count(busy.Error(), "collector:") != 1 {
		t.Errorf("busy: prefix repeated: %v", busy)
	}
	noCap := bindError(7, pfSteps[0], eperm)
	if !errors.Is(noCap, os.ErrPermission) || errors.Is(noCap, ErrGroupBusy) || !strings.Contains(noCap.Error(), "CAP_NET_ADMIN") {
		t.Errorf("no capability: %v", noCap)
	}
	other := bindError(7, groupStep(GroupConfig{Group: 7}, false), unix.EINVAL)
	var ge *GroupError
	if !errors.As(other, &ge) || ge.Group != 7 || errors.Is(other, ErrGroupBusy) || !strings.Contains(other.Error(), "invalid argument") {
		t.Errorf("other: %v", other)
	}
}
