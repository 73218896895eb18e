package collector

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// go-nflog v2.3.0 formats the kernel's errno with %v; these are its texts.
func TestBindError(t *testing.T) {
	busy := bindError(100, errors.New("could not bind to requested group 100: netlink receive: operation not permitted"))
	if !errors.Is(busy, ErrGroupBusy) || !strings.Contains(busy.Error(), "group 100") || !strings.Contains(busy.Error(), "ulogd2") {
		t.Errorf("busy: %v", busy)
	}
	if strings.Count(busy.Error(), "collector:") != 1 {
		t.Errorf("busy: prefix repeated: %v", busy)
	}
	noCap := bindError(7, errors.New("could not unbind existing handlers from socket: netlink receive: operation not permitted"))
	if !errors.Is(noCap, os.ErrPermission) || errors.Is(noCap, ErrGroupBusy) || !strings.Contains(noCap.Error(), "CAP_NET_ADMIN") {
		t.Errorf("no capability: %v", noCap)
	}
	other := bindError(7, errors.New("could not set copy mode 2 and buffer size 0: invalid argument"))
	var ge *GroupError
	if !errors.As(other, &ge) || ge.Group != 7 || errors.Is(other, ErrGroupBusy) {
		t.Errorf("other: %v", other)
	}
}
