package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Reader kinds. kindAgentHTTPS is the agent with an http sink (gzip, spool
// directory on the tmpfs) towards `nflogbench receive` on B's loopback.
const (
	kindULOGD      = "ulogd2"
	kindAgent      = "nflog-agent"
	kindAgentHTTPS = "nflog-agent-https"
	kindAgentFile  = "nflog-agent-file"
)

// Each reader kind has its own NFLOG group (one listener per group per
// namespace) and rule.
var groupOf = map[string]int{kindULOGD: 5, kindAgent: 6, kindAgentHTTPS: 7, kindAgentFile: 8}

// recvCPU is the CPU the HTTPS receiver is pinned to: the generator's, so
// that the agent keeps CPU 1 to itself as in the other setups.
const recvCPU = "0"

// Kernel batching and socket buffers, the same for both readers: the kernel
// sends a batch after 64 packets or 50 ms; the receive buffer starts at
// 8 MiB requested (16 MiB granted) and may grow to 64 MiB on ENOBUFS. (The
// agent also sets the batch size to 64 KiB; ulogd2 cannot, so its batches
// stay at the kernel's default of about 4 KiB.)
const (
	queueThreshold = 64
	flushTimeoutMS = 50
	readBuffer     = 8 << 20
	readBufferMax  = 64 << 20
)

// ulogdConfig is a typical ulogd2 JSON setup with the benchmark's group,
// files and batching: NFLOG → BASE → IFINDEX → IP2STR → HWHDR → JSON file,
// sequence numbers on. netlink_socket_buffer_size must stay strictly below
// netlink_socket_buffer_maxsize or ulogd never sets the buffer.
func ulogdConfig(dir string, group int) string {
	return fmt.Sprintf(`# Written by bench/nflogbench for one benchmark run.
[global]
logfile="%[1]s/ulogd.log"
loglevel=5
plugin="%[2]s/ulogd_inppkt_NFLOG.so"
plugin="%[2]s/ulogd_raw2packet_BASE.so"
plugin="%[2]s/ulogd_filter_IFINDEX.so"
plugin="%[2]s/ulogd_filter_IP2STR.so"
plugin="%[2]s/ulogd_filter_HWHDR.so"
plugin="%[2]s/ulogd_output_JSON.so"
stack=log1:NFLOG,base1:BASE,ifi1:IFINDEX,ip2str1:IP2STR,mac2str1:HWHDR,json1:JSON

[log1]
group=%[3]d
bufsize=150000
netlink_socket_buffer_size=%[4]d
netlink_socket_buffer_maxsize=%[5]d
netlink_qthreshold=%[6]d
netlink_qtimeout=%[7]d
seq_local=1
seq_global=1

[json1]
file="%[1]s/ulogd.json"
sync=0
timestamp=1
eventv1=0
device="bench"
boolean_label=0
mode="file"
`, dir, ulogdPluginDir, group, readBuffer, readBufferMax, queueThreshold, flushTimeoutMS/10)
}

const ulogdPluginDir = "/usr/lib/x86_64-linux-gnu/ulogd"

// agentConfig sets the agent's group with the same batching and buffers as
// ulogd's; events go to stdout, which the benchmark points at a file.
// overflow, when set, overrides the agent's queue overflow policy; extra is
// appended as top-level YAML.
func agentConfig(group int, overflow, extra string) string {
	over := ""
	if overflow != "" {
		over = "    overflow: " + overflow + "\n"
	}
	yaml := extraYAML(extra)
	return fmt.Sprintf(`# Written by bench/nflogbench for one benchmark run.
hostname: bench
groups:
  - group: %d
    queue_threshold: %d
    flush_timeout: %dms
    read_buffer: %dMiB
    read_buffer_max: %dMiB
%s%s`, group, queueThreshold, flushTimeoutMS, readBuffer>>20, readBufferMax>>20, over, yaml)
}

// agentHTTPSConfig is agentConfig with a spool directory and an http sink
// (gzip, NDJSON, concurrency batches in flight; 0: the sink's default)
// towards the receiver at 127.0.0.1:port that trusts caFile.
func agentHTTPSConfig(group int, overflow, extra, spoolDir string, port int, caFile string, concurrency int) string {
	conc := ""
	if concurrency > 0 {
		conc = fmt.Sprintf("    concurrency: %d\n", concurrency)
	}
	return agentConfig(group, overflow, "") + fmt.Sprintf(`spool:
  dir: %s
sinks:
  - type: http
    name: bench
    url: https://127.0.0.1:%d/ingest
    format: ndjson
    compression: gzip
%s    tls: {ca_file: %s}
`, spoolDir, port, conc, caFile) + extraYAML(extra)
}

// extraYAML is the extra top-level YAML, ending its last line.
func extraYAML(extra string) string {
	if extra == "" {
		return ""
	}
	return strings.TrimRight(extra, "\n") + "\n"
}

// agentFileConfig is agentConfig with a file sink writing to path.
func agentFileConfig(group int, overflow, extra, path string) string {
	return agentConfig(group, overflow, "") + fmt.Sprintf("sinks:\n  - type: file\n    path: %s\n", path) + extraYAML(extra)
}

// readerRun is one reader process of one benchmark run.
type readerRun struct {
	kind   string
	group  int
	dir    string
	p      *proc
	output string // the events it writes (agent-https: the receiver's count file)
	spool  string // agent-https: its spool directory
	stderr string
	recv   *proc // agent-https: the receiver
}

// killAll kills the reader and its receiver, if still running.
func (r *readerRun) killAll() {
	r.p.kill()
	if r.recv != nil {
		r.recv.kill()
	}
}

// startReceiver starts `nflogbench receive` in namespace ns and waits until
// it has written its port file.
func startReceiver(r *readerRun, ns string, pids *os.File) (int, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	errf, err := os.Create(filepath.Join(r.dir, "receiver.stderr"))
	if err != nil {
		return 0, err
	}
	defer errf.Close()
	args := []string{"ip", "netns", "exec", ns, "taskset", "-c", recvCPU, self, "receive", "-dir", r.dir}
	if r.recv, err = startProc("receiver", args, nil, errf, pids); err != nil {
		return 0, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if port := readCount(filepath.Join(r.dir, recvPortFile)); port > 0 {
			return int(port), nil
		}
		if r.recv.exited() {
			return 0, fmt.Errorf("receiver exited at start: %v; stderr:\n%s", r.recv.err, tail(errf.Name()))
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("receiver not ready within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startReader starts a reader in namespace ns pinned to cpu.
// With o.agentRT, the agent runs under SCHED_RR 99 like ulogd2, which sets
// that itself.
// agent-https's spool goes in spoolDir.
func startReader(kind, dir, spoolDir, ns, cpu string, o options, pids *os.File) (*readerRun, error) {
	bins := o.bins
	r := &readerRun{kind: kind, group: groupOf[kind], dir: dir, stderr: filepath.Join(dir, kind+".stderr")}
	errf, err := os.Create(r.stderr)
	if err != nil {
		return nil, err
	}
	defer errf.Close()
	var args []string
	var out *os.File
	switch kind {
	case kindULOGD:
		conf := filepath.Join(dir, "ulogd.conf")
		if err := os.WriteFile(conf, []byte(ulogdConfig(dir, r.group)), 0o644); err != nil {
			return nil, err
		}
		r.output = filepath.Join(dir, "ulogd.json")
		args = []string{bins.ulogd, "-c", conf}
	case kindAgent:
		conf := filepath.Join(dir, "agent.yaml")
		if err := os.WriteFile(conf, []byte(agentConfig(r.group, o.overflow, o.extra)), 0o644); err != nil {
			return nil, err
		}
		r.output = filepath.Join(dir, "agent.ndjson")
		if out, err = os.Create(r.output); err != nil {
			return nil, err
		}
		defer out.Close()
		args = []string{bins.agent, "run", "--config", conf}
		if o.agentRT {
			args = append([]string{"chrt", "-r", "99"}, args...)
		}
	case kindAgentHTTPS:
		port, err := startReceiver(r, ns, pids)
		if err != nil {
			return nil, err
		}
		conf := filepath.Join(dir, "agent-https.yaml")
		r.spool = filepath.Join(spoolDir, "spool")
		cfg := agentHTTPSConfig(r.group, o.overflow, o.extra, r.spool, port, filepath.Join(dir, recvCertFile), o.httpsConcurrency)
		if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
			r.recv.kill()
			return nil, err
		}
		r.output = filepath.Join(dir, recvCountFile)
		// Nothing is expected on stdout; keep it anyway.
		if out, err = os.Create(filepath.Join(dir, "agent-https.stdout")); err != nil {
			r.recv.kill()
			return nil, err
		}
		defer out.Close()
		args = []string{bins.agent, "run", "--config", conf}
		if o.agentRT {
			args = append([]string{"chrt", "-r", "99"}, args...)
		}
	case kindAgentFile:
		conf := filepath.Join(dir, "agent-file.yaml")
		r.output = filepath.Join(dir, "agent-file.ndjson")
		if err := os.WriteFile(conf, []byte(agentFileConfig(r.group, o.overflow, o.extra, r.output)), 0o644); err != nil {
			return nil, err
		}
		// Nothing is expected on stdout; keep it anyway.
		if out, err = os.Create(filepath.Join(dir, "agent-file.stdout")); err != nil {
			return nil, err
		}
		defer out.Close()
		args = []string{bins.agent, "run", "--config", conf}
		if o.agentRT {
			args = append([]string{"chrt", "-r", "99"}, args...)
		}
	default:
		return nil, fmt.Errorf("unknown reader %q", kind)
	}
	args = append([]string{"ip", "netns", "exec", ns, "taskset", "-c", cpu}, args...)
	if r.p, err = startProc(kind, args, out, errf, pids); err != nil {
		if r.recv != nil {
			r.recv.kill()
		}
		return nil, err
	}
	return r, nil
}

// outputSize is the size of the reader's output file so far (agent-https:
// the receiver's event count).
func (r *readerRun) outputSize() int64 {
	if r.kind == kindAgentHTTPS {
		return int64(readCount(r.output))
	}
	fi, err := os.Stat(r.output)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// counts is what a reader wrote and what it says the kernel lost.
type counts struct {
	written    uint64
	kernelLost uint64 // from sequence gaps, as the reader sees them
	queueDrop  uint64 // agent only: records dropped between reader and decoder
	spoolDrop  uint64 // agent only: events dropped before the queue (its input buffer was full)
	sinkDrop   uint64 // agent only: events the queue dropped before the sink had them
}

// collect counts a stopped reader's output.
func (r *readerRun) collect() (counts, error) {
	if r.kind == kindAgentHTTPS {
		tot, err := r.totals()
		if err != nil {
			return counts{}, err
		}
		return agentCounts(readCount(r.output), tot), nil
	}
	f, err := os.Open(r.output)
	if err != nil {
		return counts{}, err
	}
	defer f.Close()
	switch r.kind {
	case kindULOGD:
		s, err := scanSeq(f, []byte(`"oob.seq.local": `))
		if err != nil {
			return counts{}, err
		}
		return counts{written: s.lines, kernelLost: s.gaps}, nil
	default:
		n, err := countLines(f)
		if err != nil {
			return counts{}, err
		}
		tot, err := r.totals()
		if err != nil {
			return counts{}, err
		}
		return agentCounts(n, tot), nil
	}
}

func agentCounts(written uint64, tot map[string]uint64) counts {
	return counts{written: written, kernelLost: tot["kernel_lost"], queueDrop: tot["queue_dropped"],
		spoolDrop: tot["spool_dropped"], sinkDrop: tot["dropped"]}
}

// totals is the agent's "group totals" log line, with the fields of its
// "events dropped before the spool" line (only there when some were) and
// of its one "sink totals" line added.
func (r *readerRun) totals() (map[string]uint64, error) {
	errb, err := os.ReadFile(r.stderr)
	if err != nil {
		return nil, err
	}
	tot, ok := agentLine(string(errb), "group totals", r.group)
	if !ok {
		return nil, fmt.Errorf("no \"group totals\" line for group %d in %s", r.group, r.stderr)
	}
	if d, ok := agentLine(string(errb), "events dropped before the spool (its input buffer was full)", r.group); ok {
		tot["spool_dropped"] = d["spool_dropped"]
	}
	if s, ok := agentLine(string(errb), "sink totals", -1); ok {
		tot["dropped"] = s["dropped"]
	}
	return tot, nil
}

func countLines(r io.Reader) (uint64, error) {
	buf := make([]byte, 1<<20)
	var n uint64
	for {
		k, err := r.Read(buf)
		n += uint64(bytes.Count(buf[:k], []byte{'\n'}))
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// seqScan is what scanSeq found: lines, and the sequence numbers missing
// before the first line and between lines (a loss after the last line has
// no later number to reveal it).
type seqScan struct {
	lines, withSeq, gaps uint64
	first, last          uint64
}

// scanSeq reads JSON lines and counts the gaps of the decimal number after
// key. NFLOG sequence numbers start at 0 for a new group instance and are
// delivered in order.
func scanSeq(r io.Reader, key []byte) (seqScan, error) {
	var s seqScan
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		s.lines++
		line := sc.Bytes()
		i := bytes.Index(line, key)
		if i < 0 {
			continue
		}
		j := i + len(key)
		k := j
		for k < len(line) && line[k] >= '0' && line[k] <= '9' {
			k++
		}
		v, err := strconv.ParseUint(string(line[j:k]), 10, 64)
		if err != nil {
			continue
		}
		switch {
		case s.withSeq == 0:
			s.first = v
			s.gaps = v
		case v > s.last:
			s.gaps += v - s.last - 1
		}
		s.last = v
		s.withSeq++
	}
	return s, sc.Err()
}

// agentLine finds the agent's log line with message msg for group (any
// group when negative) and returns its numeric attributes.
func agentLine(stderr, msg string, group int) (map[string]uint64, bool) {
	want := "group=" + strconv.Itoa(group)
	for line := range strings.Lines(stderr) {
		if !strings.Contains(line, `msg="`+msg+`"`) {
			continue
		}
		m := map[string]uint64{}
		match := group < 0
		for _, f := range strings.Fields(line) {
			if f == want {
				match = true
			}
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				continue
			}
			if n, err := strconv.ParseUint(v, 10, 64); err == nil {
				m[k] = n
			}
		}
		if match {
			return m, true
		}
	}
	return nil, false
}
