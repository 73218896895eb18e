package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/nflog-agent/nflog-agent/collector/nflogpcap"
	"github.com/nflog-agent/nflog-agent/decode"
)

// FuzzReplay replays whole capture files, pcap and pcapng: no input may make
// replay panic or print anything but JSON lines, and every failure is
// reported. Its seed corpus (testdata/fuzz/FuzzReplay) holds real captures
// and files whose length fields claim up to 4 GiB.
func FuzzReplay(f *testing.F) {
	f.Add(captureBytes(f, nflogpcap.LinkTypeNFLOG, udpDrop, broken, tcpAccept))
	f.Fuzz(func(t *testing.T, file []byte) {
		var out, errs bytes.Buffer
		rp := replayer{names: ifNames{}, group: -1, stderr: &errs,
			enc: decode.NewEncoder(decode.Options{Hostname: "fuzz"}), out: bufio.NewWriter(&out)}
		ok := rp.replayCapture("capture", bytes.NewReader(file))
		if err := rp.out.Flush(); err != nil {
			t.Fatal(err)
		}
		if ok != (errs.Len() == 0) {
			t.Errorf("replay reported ok=%v with errors %q", ok, errs.String())
		}
		for line := range strings.Lines(errs.String()) {
			if !strings.HasPrefix(line, "nflog-agent replay: capture: ") {
				t.Errorf("error line %q does not name the file", line)
			}
		}
		for line := range bytes.Lines(out.Bytes()) {
			if !json.Valid(line) {
				t.Errorf("not a JSON line: %q", line)
			}
		}
	})
}

// TestReplayUnderMemoryLimit replays the seed corpus of FuzzReplay in a child
// process limited to 2 GiB of address space: a file that made replay allocate
// from a length field claiming up to 4 GiB would kill it. (The Go runtime
// reserves several hundred MiB of address space for itself; at 1 GiB the
// child now and then fails to start.)
func TestReplayUnderMemoryLimit(t *testing.T) {
	cmd := exec.Command("bash", "-c", `ulimit -v 2097152 && exec "$0" -test.run '^FuzzReplay$' -test.count 1 -test.v`, os.Args[0])
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("FuzzReplay seeds under a 2 GiB limit: %v\n%s", err, out)
	}
	if seeds := strings.Count(string(out), "--- PASS: FuzzReplay/"); seeds < 10 {
		t.Fatalf("only %d seeds ran under the limit:\n%s", seeds, out)
	}
}
