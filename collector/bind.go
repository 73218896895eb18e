package collector

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// nfnetlink_log configuration (linux/netfilter/nfnetlink_log.h; x/sys/unix
// lacks these).
const (
	msgConfig = unix.NFNL_SUBSYS_ULOG<<8 | 1 // NFULNL_MSG_CONFIG

	// NFULA_CFG_* attributes.
	cfgCmd      = 1
	cfgMode     = 2
	cfgNlBufSiz = 3
	cfgTimeout  = 4 // 1/100 s
	cfgQThresh  = 5
	cfgFlags    = 6

	// NFULNL_CFG_CMD_* commands.
	cmdBind     = 1
	cmdPFBind   = 3
	cmdPFUnbind = 4

	copyPacket    = 2 // NFULNL_COPY_PACKET
	flagSeq       = 1 // NFULNL_CFG_F_SEQ
	flagConntrack = 4 // NFULNL_CFG_F_CONNTRACK: attach NFULA_CT and NFULA_CT_INFO
)

// bindStep is one configuration command sent to the kernel.
type bindStep struct {
	what  string
	group uint16 // 0 for the per-family commands
	attrs func(ae *netlink.AttributeEncoder)
}

// pfSteps come first, as go-nflog sends them: the per-family (AF_UNSPEC)
// unbind and bind have no effect on `log group` rules today, but they need
// CAP_NET_ADMIN and nothing else, which tells a missing capability apart
// from a busy group.
var pfSteps = []bindStep{
	{"unbind the per-family logger", 0, func(ae *netlink.AttributeEncoder) { ae.Uint8(cfgCmd, cmdPFUnbind) }},
	{"bind the per-family logger", 0, func(ae *netlink.AttributeEncoder) { ae.Uint8(cfgCmd, cmdPFBind) }},
}

// groupStep binds the group and configures it in the same message, so that
// no packet is batched under the kernel's defaults: copy mode and range,
// batch size, flush timeout, queue threshold, and sequence numbers (always
// on: the only way to count kernel-side loss), and the conntrack entry
// when asked for.
func groupStep(cfg GroupConfig, conntrack bool) bindStep {
	flags := uint16(flagSeq)
	if conntrack {
		flags |= flagConntrack
	}
	return bindStep{"bind", cfg.Group, func(ae *netlink.AttributeEncoder) {
		ae.Uint8(cfgCmd, cmdBind)
		// struct nfulnl_msg_config_mode: copy_range be32, copy_mode u8, pad.
		ae.Bytes(cfgMode, append(binary.BigEndian.AppendUint32(nil, cfg.copyRange()), copyPacket, 0))
		ae.ByteOrder = binary.BigEndian
		ae.Uint32(cfgNlBufSiz, nlBufSize)
		ae.Uint32(cfgTimeout, cfg.kernelTimeout())
		ae.Uint32(cfgQThresh, cfg.QueueThreshold)
		ae.Uint16(cfgFlags, flags)
	}}
}

// probe sends the per-family commands and waits for their ACKs. No group is
// bound yet, so nothing else can arrive on the socket.
func probe(c *netlink.Conn, group uint16) error {
	for _, st := range pfSteps {
		if _, err := c.Execute(st.message()); err != nil {
			return bindError(group, st, err)
		}
	}
	return nil
}

// message is the netlink request of the step, asking for an ACK.
func (st bindStep) message() netlink.Message {
	ae := netlink.NewAttributeEncoder()
	st.attrs(ae)
	attrs, err := ae.Encode()
	if err != nil {
		panic(err) // only fixed-size attributes: cannot fail
	}
	// struct nfgenmsg: family AF_UNSPEC, version 0, res_id = group (be16).
	data := append([]byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, byte(st.group >> 8), byte(st.group)}, attrs...)
	return netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(msgConfig), Flags: netlink.Request | netlink.Acknowledge},
		Data:   data,
	}
}

// bindError explains a failed configuration command. The kernel answers
// EPERM both without CAP_NET_ADMIN (to every command, so the first one
// fails) and when another socket owns the group (to the bind command).
func bindError(group uint16, st bindStep, err error) error {
	eperm := errors.Is(err, unix.EPERM)
	switch {
	case eperm && st.group != 0:
		return &GroupError{Group: group, Op: st.what, Err: fmt.Errorf("%w (kernel: %v)", ErrGroupBusy, err),
			Hint: fmt.Sprintf("another process (ulogd2?) already listens on NFLOG group %d in this network namespace, "+
				"and the kernel allows only one listener per group: stop it (e.g. `systemctl stop ulogd2`) "+
				"or use a different group number in both the nft/iptables rules and the agent config", group)}
	case eperm:
		return &GroupError{Group: group, Op: st.what, Err: fmt.Errorf("%w (kernel: %v)", os.ErrPermission, err),
			Hint: "the agent needs CAP_NET_ADMIN to subscribe to NFLOG groups"}
	}
	return &GroupError{Group: group, Op: st.what, Err: err}
}
