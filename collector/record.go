package collector

import (
	"time"

	nflog "github.com/florianl/go-nflog/v2"

	"github.com/nflog-agent/nflog-agent/decode"
)

// Namer resolves interface indexes to names in the namespace of the group.
// It must be cheap: it is called for every packet on the reader goroutine.
type Namer interface {
	Name(index uint32) string
}

// toRecord copies one go-nflog message into a decode.Record. It is a pure
// function of its inputs (names aside), so it is tested on captured values.
// go-nflog hands out freshly allocated byte slices (netlink's
// AttributeDecoder.Bytes copies), so they are kept without another copy.
func toRecord(a *nflog.Attribute, group uint16, names Namer, now time.Time) decode.Record {
	r := decode.Record{Group: group, ReceivedAt: now}
	if a.Hook != nil {
		r.HasHook, r.Hook = true, *a.Hook
	}
	if a.HwProtocol != nil {
		r.HwProtocol = *a.HwProtocol
		// go-nflog drops the nfgenmsg family; skb->protocol gives it for
		// the inet families, which are the only ones it can parse.
		switch r.HwProtocol {
		case 0x0800:
			r.Family = decode.FamilyIPv4
		case 0x86dd:
			r.Family = decode.FamilyIPv6
		}
	}
	if a.Prefix != nil {
		r.Prefix = *a.Prefix
	}
	r.InDev = deref(a.InDev)
	r.OutDev = deref(a.OutDev)
	r.PhysInDev = deref(a.PhysInDev)
	r.PhysOutDev = deref(a.PhysOutDev)
	if names != nil {
		r.InName = name(names, r.InDev)
		r.OutName = name(names, r.OutDev)
		r.PhysInName = name(names, r.PhysInDev)
		r.PhysOutName = name(names, r.PhysOutDev)
	}
	if a.HwType != nil {
		r.HasHwType, r.HwType = true, *a.HwType
	}
	if a.HwLen != nil {
		r.HwLen = *a.HwLen
	}
	if a.HwHeader != nil {
		r.HwHeader = *a.HwHeader
	}
	if a.HwAddr != nil {
		r.HwAddr = *a.HwAddr
	}
	r.Mark = deref(a.Mark)
	if a.UID != nil {
		r.HasUID, r.UID = true, *a.UID
	}
	if a.GID != nil {
		r.HasGID, r.GID = true, *a.GID
	}
	if a.Seq != nil {
		r.HasSeq, r.Seq = true, *a.Seq
	}
	if a.SeqGlobal != nil {
		r.HasSeqGlobal, r.SeqGlobal = true, *a.SeqGlobal
	}
	if a.Timestamp != nil {
		r.Timestamp = *a.Timestamp
	}
	if a.CtInfo != nil {
		r.HasCtInfo, r.CtInfo = true, *a.CtInfo
	}
	if a.Ct != nil {
		r.Ct = *a.Ct
	}
	if a.Payload != nil {
		r.Payload = *a.Payload
	}
	return r
}

func deref(p *uint32) uint32 {
	if p == nil {
		return 0
	}
	return *p
}

func name(n Namer, index uint32) string {
	if index == 0 {
		return ""
	}
	return n.Name(index)
}
