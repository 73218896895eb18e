// Package nftlog finds the nftables rules that log to NFLOG groups, in the
// JSON that `nft -j list ruleset` prints. iptables-nft rules with
// `-j NFLOG --nflog-group N` show up there too: iptables-nft stores them as
// the same native log expression.
package nftlog

import (
	"encoding/json"
	"fmt"
)

// Rule is where a log statement lives.
type Rule struct {
	Family, Table, Chain string
	Handle               int
	Prefix               string
}

func (r Rule) String() string { return fmt.Sprintf("%s %s %s", r.Family, r.Table, r.Chain) }

// Groups parses a ruleset and returns, per NFLOG group, the rules that log
// to it in ruleset order. Log statements without a group (kernel log) are
// not NFLOG and are ignored.
func Groups(rulesetJSON []byte) (map[uint16][]Rule, error) {
	var doc struct {
		Nftables []struct {
			Rule *struct {
				Family string            `json:"family"`
				Table  string            `json:"table"`
				Chain  string            `json:"chain"`
				Handle int               `json:"handle"`
				Expr   []json.RawMessage `json:"expr"`
			} `json:"rule"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(rulesetJSON, &doc); err != nil {
		return nil, fmt.Errorf("nftlog: ruleset JSON: %w", err)
	}
	out := map[uint16][]Rule{}
	for _, item := range doc.Nftables {
		r := item.Rule
		if r == nil {
			continue
		}
		for _, e := range r.Expr {
			var stmt struct {
				Log *struct {
					Group  *uint16 `json:"group"`
					Prefix string  `json:"prefix"`
				} `json:"log"`
			}
			// Other statements have other shapes; only a well-formed log
			// statement matters here.
			if json.Unmarshal(e, &stmt) != nil || stmt.Log == nil || stmt.Log.Group == nil {
				continue
			}
			g := *stmt.Log.Group
			out[g] = append(out[g], Rule{Family: r.Family, Table: r.Table, Chain: r.Chain, Handle: r.Handle, Prefix: stmt.Log.Prefix})
		}
	}
	return out, nil
}
