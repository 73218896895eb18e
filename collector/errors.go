package collector

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// ErrGroupBusy means another socket (typically ulogd2) already listens on the
// NFLOG group: the kernel allows one listener per group and network namespace.
var ErrGroupBusy = errors.New("collector: NFLOG group already has a listener")

// GroupError is an error about one group, with the operation that failed.
// It wraps ErrGroupBusy, os.ErrPermission or the underlying error so callers
// can test with errors.Is.
type GroupError struct {
	Group uint16
	Op    string // "open", "set read buffer", "bind", "receive"
	Err   error
	Hint  string // what the operator should do, when we know
}

func (e *GroupError) Error() string {
	// The wrapped sentinels carry the package prefix already.
	msg := fmt.Sprintf("collector: group %d: %s: %s", e.Group, e.Op, strings.TrimPrefix(e.Err.Error(), "collector: "))
	if e.Hint != "" {
		msg += " — " + e.Hint
	}
	return msg
}

func (e *GroupError) Unwrap() error { return e.Err }

// bindError classifies the error of go-nflog's RegisterWithErrorFunc. It
// formats the errno with %v, so the text is all there is to go on: the bind
// command answers EPERM when another socket owns the group, while a missing
// CAP_NET_ADMIN already fails the first config command (PF_UNBIND).
func bindError(group uint16, err error) error {
	s := err.Error()
	eperm := strings.Contains(s, "operation not permitted")
	switch {
	case eperm && strings.Contains(s, "could not bind to requested group"):
		return &GroupError{Group: group, Op: "bind", Err: fmt.Errorf("%w (kernel: %v)", ErrGroupBusy, err),
			Hint: fmt.Sprintf("another process (ulogd2?) already listens on NFLOG group %d in this network namespace, "+
				"and the kernel allows only one listener per group: stop it (e.g. `systemctl stop ulogd2`) "+
				"or use a different group number in both the nft/iptables rules and the agent config", group)}
	case eperm:
		return &GroupError{Group: group, Op: "bind", Err: fmt.Errorf("%w (kernel: %v)", os.ErrPermission, err),
			Hint: "the agent needs CAP_NET_ADMIN to subscribe to NFLOG groups"}
	}
	return &GroupError{Group: group, Op: "bind", Err: err}
}
