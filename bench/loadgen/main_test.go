package main

import (
	"io"
	"testing"
	"time"
)

func TestPacing(t *testing.T) {
	if got := batchFor(25000, 64); got != 12 {
		t.Errorf("batchFor(25k) = %d", got)
	}
	if got := batchFor(400000, 64); got != 64 {
		t.Errorf("batchFor(400k) = %d", got)
	}
	if got := batchFor(100, 64); got != 1 {
		t.Errorf("batchFor(100) = %d", got)
	}
	if got := due(100000, 1500*time.Millisecond); got != 150000 {
		t.Errorf("due = %d", got)
	}
}

func TestFlagErrors(t *testing.T) {
	if code := run([]string{"-rate", "10"}, io.Discard, io.Discard); code != 2 {
		t.Errorf("no -dst: exit %d", code)
	}
}
