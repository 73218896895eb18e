package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/nflog-agent/nflog-agent/collector/nflogpcap"
	"github.com/nflog-agent/nflog-agent/decode"
)

// runReplay is `nflog-agent replay [flags] FILE...`: it decodes NFLOG
// captures (tcpdump -i nflog:N -w FILE) to ECS JSON lines on stdout. A failure
// is reported on stderr and the rest is still replayed; the exit status is 1
// if anything failed, 2 on a usage error.
func runReplay(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("nflog-agent replay", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() {
		fmt.Fprint(stderr, "usage: nflog-agent replay [flags] FILE...\n\n"+
			"Decode NFLOG pcap/pcapng captures (tcpdump -i nflog:N -w FILE) to ECS JSON lines on stdout.\n\nflags:\n")
		flags.PrintDefaults()
	}
	rp := replayer{names: ifNames{}, group: -1, stderr: stderr}
	var opts decode.Options
	flags.Func("ifname", "name interface `INDEX=NAME` (repeatable); other indexes get this host's current names", rp.names.set)
	flags.Func("message-flags", "kernel logging `flags` the message line emulates: tcpseq,tcpopt,ipopt,uid,macdecode, all, none or a number such as 0x2f (default none)",
		func(s string) (err error) {
			opts.Flags, err = decode.ParseLogFlags(s)
			return err
		})
	flags.Func("group", "report every record as coming from NFLOG group `N`", func(s string) error {
		n, err := strconv.ParseUint(s, 10, 16)
		rp.group = int(n)
		return err
	})
	opts.Hostname, _ = os.Hostname()
	flags.StringVar(&opts.Hostname, "hostname", opts.Hostname, "observer.hostname of the events")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if flags.NArg() == 0 {
		fmt.Fprintln(stderr, "nflog-agent replay: no FILE given")
		flags.Usage()
		return 2
	}

	rp.enc = decode.NewEncoder(opts)
	rp.out = bufio.NewWriter(stdout)
	status := 0
	for _, path := range flags.Args() {
		if !rp.replay(path) {
			status = 1
		}
	}
	if err := rp.out.Flush(); err != nil {
		fmt.Fprintf(stderr, "nflog-agent replay: writing events: %v\n", err)
		return 1
	}
	return status
}

type replayer struct {
	enc    *decode.Encoder
	names  ifNames
	group  int // replaces the records' group when >= 0
	out    *bufio.Writer
	stderr io.Writer
}

// replay writes the events of the capture file at path and reports whether
// it was read without error.
func (rp *replayer) replay(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // path is in the message already
		}
		rp.fail(path, err)
		return false
	}
	defer f.Close()
	return rp.replayCapture(path, f)
}

// replayCapture writes the events of the capture file read from r, named
// name in messages, and reports whether it was read without error.
func (rp *replayer) replayCapture(name string, r io.Reader) (ok bool) {
	c, err := nflogpcap.Open(r)
	if err != nil {
		rp.fail(name, err)
		return false
	}
	ok = true
	var rec decode.Record
	for {
		err := c.Next(&rec)
		if err == io.EOF {
			return ok
		}
		if err != nil {
			rp.fail(name, err)
			ok = false
			continue
		}
		rec.InName = rp.names.name(rec.InDev)
		rec.OutName = rp.names.name(rec.OutDev)
		rec.PhysInName = rp.names.name(rec.PhysInDev)
		rec.PhysOutName = rp.names.name(rec.PhysOutDev)
		if rp.group >= 0 {
			rec.Group = uint16(rp.group)
		}
		ev := rp.enc.Encode(&rec)
		rp.out.Write(ev.JSON)
		rp.out.WriteByte('\n')
	}
}

func (rp *replayer) fail(name string, err error) {
	fmt.Fprintf(rp.stderr, "nflog-agent replay: %s: %v\n", name, err)
}

// ifNames maps interface indexes to names: those given with --ifname, and
// the host's, looked up once per index ("" when the host has none).
type ifNames map[uint32]string

func (m ifNames) set(s string) error {
	index, name, _ := strings.Cut(s, "=")
	n, err := strconv.ParseUint(index, 10, 32)
	if err != nil || n == 0 || name == "" {
		return fmt.Errorf("%q is not INDEX=NAME with a positive INDEX", s)
	}
	m[uint32(n)] = name
	return nil
}

func (m ifNames) name(index uint32) string {
	if index == 0 {
		return ""
	}
	name, ok := m[index]
	if !ok {
		if ifi, err := net.InterfaceByIndex(int(index)); err == nil {
			name = ifi.Name
		}
		m[index] = name
	}
	return name
}
