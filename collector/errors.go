package collector

import (
	"errors"
	"fmt"
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
