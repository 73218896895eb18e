package collector

import (
	"testing"
	"time"
)

func TestGroupConfigDefaults(t *testing.T) {
	c := GroupConfig{Group: 1}.WithDefaults()
	if c.SnapLen != DefaultSnapLen || c.QueueThreshold != DefaultQueueThreshold || c.FlushTimeout != DefaultFlushTimeout ||
		c.ReadBuffer != DefaultReadBuffer || c.ReadBufferMax != DefaultReadBufferMax || c.Queue != DefaultQueue || c.Overflow != Block {
		t.Errorf("defaults: %+v", c)
	}
	if c.FlushTimeout >= 100*time.Millisecond {
		t.Errorf("default flush timeout %s: delivery latency must stay under 100 ms", c.FlushTimeout)
	}
	if full := (GroupConfig{FullPacket: true}).WithDefaults(); full.copyRange() != 0 {
		t.Errorf("full packet copy range %d, want 0 (kernel maximum)", full.copyRange())
	}
	if big := (GroupConfig{ReadBuffer: 128 << 20}).WithDefaults(); big.ReadBufferMax != 128<<20 {
		t.Errorf("read_buffer_max %d below read_buffer", big.ReadBufferMax)
	}
}

func TestKernelTimeout(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want uint32
	}{{time.Millisecond, 1}, {10 * time.Millisecond, 1}, {11 * time.Millisecond, 2}, {50 * time.Millisecond, 5}, {time.Second, 100}} {
		if got := (GroupConfig{FlushTimeout: tt.d}).kernelTimeout(); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.d, got, tt.want)
		}
	}
}

func TestGroupConfigValidate(t *testing.T) {
	for _, c := range []GroupConfig{{SnapLen: 70000}, {FlushTimeout: -1}, {ReadBuffer: -1}, {Queue: -1}, {QueueThreshold: MaxQueueThreshold + 1}, {ReadBuffer: 2 << 20, ReadBufferMax: 1 << 20}} {
		if c.Validate() == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	if err := (GroupConfig{Group: 100}).WithDefaults().Validate(); err != nil {
		t.Error(err)
	}
}

func TestParseOverflow(t *testing.T) {
	for in, want := range map[string]Overflow{"drop": DropNewest, "block": Block, "": Block} {
		if got, err := ParseOverflow(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := ParseOverflow("newest"); err == nil {
		t.Error("bad policy accepted")
	}
}
