package collector

import "testing"

func TestSeqTracker(t *testing.T) {
	tests := []struct {
		name string
		seqs []uint32
		lost []uint64
	}{
		{"contiguous from 0", []uint32{0, 1, 2, 3}, []uint64{0, 0, 0, 0}},
		{"first message late: the ones before it were dropped", []uint32{3, 4}, []uint64{3, 0}},
		{"gap", []uint32{0, 1, 5, 6, 10}, []uint64{0, 0, 3, 0, 3}},
		{"wraps around 2^32", []uint32{0xfffffffe, 0xffffffff, 0, 2}, []uint64{0xfffffffe, 0, 0, 1}},
		{"going backwards is not 4 billion losses", []uint32{0, 10, 5}, []uint64{0, 9, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr seqTracker
			for i, s := range tt.seqs {
				if got := tr.observe(s); got != tt.lost[i] {
					t.Errorf("seq %d: lost %d, want %d", s, got, tt.lost[i])
				}
			}
		})
	}
}
