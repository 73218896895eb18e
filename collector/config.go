package collector

import (
	"fmt"
	"time"

	"github.com/nflog-agent/nflog-agent/internal/setting"
)

// Overflow is what a group does with a record when its output queue is full.
type Overflow uint8

const (
	// Block makes the reader wait for room (the default). The socket then
	// fills up, and the kernel drops only once it is full, which shows up
	// as sequence-gap loss: the socket buffer, outside the agent's memory,
	// extends the queue.
	Block Overflow = iota
	// DropNewest discards the batch of records that does not fit and counts
	// them, so the reader never waits on anything downstream.
	DropNewest
)

// ParseOverflow reads "block" or "drop".
func ParseOverflow(s string) (Overflow, error) {
	switch s {
	case "block", "":
		return Block, nil
	case "drop":
		return DropNewest, nil
	}
	return 0, fmt.Errorf("overflow %q: want block or drop", s)
}

func (o Overflow) String() string {
	if o == Block {
		return "block"
	}
	return "drop"
}

// Defaults. The batching defaults keep a lone packet's delivery latency
// under 100 ms (it waits at most FlushTimeout in the kernel) while still
// batching bursts; the buffer defaults absorb a few hundred milliseconds of
// a busy firewall's log before the kernel has to drop.
const (
	DefaultGroup          = 100
	DefaultSnapLen        = 1024 // covers every header the kernel prints, bar pathological IPv6 extension chains
	DefaultQueueThreshold = 64
	DefaultFlushTimeout   = 50 * time.Millisecond
	DefaultReadBuffer     = 8 << 20
	DefaultReadBufferMax  = 64 << 20
	DefaultQueue          = 4096
)

// MaxQueueThreshold is the largest useful queue threshold. The kernel sends
// a batch when nlBufSize (64 KiB) is full whatever the threshold, and no
// NFLOG message is smaller than 32 bytes (the netlink and nfnetlink headers,
// the packet header and the sequence number the collector always asks for),
// so no batch holds more records; a larger threshold would only size every
// batch buffer for records that never come.
const MaxQueueThreshold = nlBufSize / 32

// MaxQueue bounds a group's output queue, in records.
const MaxQueue = 1 << 24

// maxSnapLen is the kernel's ceiling for the copy range (NFULNL_COPY_RANGE_MAX
// minus headers); 0 asks for it.
const maxSnapLen = 65531

// GroupConfig configures one NFLOG group subscription. The zero value of a
// field means its default (see WithDefaults).
type GroupConfig struct {
	Group          uint16
	SnapLen        uint32        // bytes of each packet to copy (0: DefaultSnapLen)
	FullPacket     bool          // copy whole packets (up to 65531 bytes) instead of SnapLen
	QueueThreshold uint32        // kernel flushes a batch after this many packets
	FlushTimeout   time.Duration // … or after this long; rounded up to 10 ms, the kernel's unit
	ReadBuffer     int           // socket receive buffer requested with SO_RCVBUFFORCE
	ReadBufferMax  int           // cap for doubling the buffer on ENOBUFS; = ReadBuffer disables growth
	Queue          int           // records the output queue holds (in batches of up to QueueThreshold)
	Overflow       Overflow
	// Conntrack gives each record its connection's conntrack entry: from
	// the kernel (NFULA_CT) where it can attach it, else from ctnetlink.
	Conntrack bool
}

// WithDefaults returns c with every zero field set to its default.
func (c GroupConfig) WithDefaults() GroupConfig {
	if c.SnapLen == 0 && !c.FullPacket {
		c.SnapLen = DefaultSnapLen
	}
	if c.QueueThreshold == 0 {
		c.QueueThreshold = DefaultQueueThreshold
	}
	if c.FlushTimeout == 0 {
		c.FlushTimeout = DefaultFlushTimeout
	}
	if c.ReadBuffer == 0 {
		c.ReadBuffer = DefaultReadBuffer
	}
	if c.ReadBufferMax == 0 {
		c.ReadBufferMax = max(DefaultReadBufferMax, c.ReadBuffer)
	}
	if c.Queue == 0 {
		c.Queue = DefaultQueue
	}
	return c
}

// Validate reports values the kernel or the collector cannot use.
func (c GroupConfig) Validate() error {
	switch {
	case c.SnapLen > maxSnapLen:
		return fmt.Errorf("snaplen %d: at most %d", c.SnapLen, maxSnapLen)
	case c.QueueThreshold > MaxQueueThreshold:
		return fmt.Errorf("queue_threshold %d: at most %d", c.QueueThreshold, MaxQueueThreshold)
	case c.FlushTimeout < 0:
		return fmt.Errorf("flush_timeout %s: negative", c.FlushTimeout)
	case c.FlushTimeout > time.Duration(1<<31)*10*time.Millisecond:
		return fmt.Errorf("flush_timeout %s: too large", c.FlushTimeout)
	case c.ReadBuffer < 0:
		return fmt.Errorf("read_buffer %d: negative", c.ReadBuffer)
	case c.ReadBufferMax < 0:
		return fmt.Errorf("read_buffer_max %d: negative", c.ReadBufferMax)
	case c.Queue < 0 || c.Queue > MaxQueue:
		return fmt.Errorf("queue %d: want 0 to %d", c.Queue, MaxQueue)
	case c.ReadBufferMax != 0 && c.ReadBufferMax < c.ReadBuffer:
		// A cap below the start would shrink the buffer it is meant to grow.
		return &setting.Error{Key: "read_buffer_max", Err: fmt.Errorf("%d is below read_buffer %d", c.ReadBufferMax, c.ReadBuffer)}
	}
	return nil
}

// kernelTimeout converts the flush timeout to the kernel's 1/100 s, rounding
// up so that a configured 5 ms is not silently turned into "kernel default".
func (c GroupConfig) kernelTimeout() uint32 {
	t := (c.FlushTimeout + 10*time.Millisecond - 1) / (10 * time.Millisecond)
	return uint32(max(t, 1))
}

// queueBatches is the capacity of the output queue in batches: Queue
// records when the kernel sends full batches, as it does under load.
func (c GroupConfig) queueBatches() int {
	return max(1, (c.Queue+int(c.QueueThreshold)-1)/int(c.QueueThreshold))
}

// copyRange is the NFULA_CFG_MODE copy range: 0 asks the kernel for its maximum.
func (c GroupConfig) copyRange() uint32 {
	if c.FullPacket {
		return 0
	}
	return c.SnapLen
}
