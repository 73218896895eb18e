package nflogmsg

import "github.com/nflog-agent/nflog-agent/collector/internal/nflogtest"

// tlv is one NFLOG attribute; msg encodes a whole NFLOG message.
type tlv struct {
	Type uint16
	Val  []byte
}

var (
	msg        = nflogtest.Msg[tlv]
	u16, u32   = nflogtest.U16, nflogtest.U32
	cat        = nflogtest.Cat
	fullAttrs  = nflogtest.FullAttrs[tlv]
	fullRecord = nflogtest.FullRecord
	nested     = nflogtest.Nested[tlv]
	addrEqual  = nflogtest.AddrEqual
)
