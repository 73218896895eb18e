package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nflog-agent/nflog-agent/internal/config"
	"github.com/nflog-agent/nflog-agent/internal/netlab"
	"github.com/nflog-agent/nflog-agent/ship/tlstest"
)

// startCase is a configuration and the files it refers to. want is how
// both `check` and `run` refuse it ("" when both accept it), and warnings
// what both say about it; in all three, {{file}} stands for the
// configuration's path and {{dir}} for the folder it and its files are in.
type startCase struct {
	name     string
	config   string
	files    map[string]string // name in {{dir}} → contents (mode 0600)
	public   string            // one of files to make readable by every user
	want     string
	warnings []string
	// after, when set, checks what the run side built (in {{dir}}).
	after func(t *testing.T, dir string)
}

// Every way `run` refuses a configuration at start, short of what only
// binding a socket can tell (an NFLOG group already taken, a missing
// capability, a metrics port in use) or a spool locked by a running agent,
// is caught by `check` with the same words: the configuration's file, line
// and key, and the reason. A configuration that passes starts.
func TestCheckRefusesWhatRunRefuses(t *testing.T) {
	client, err := tlstest.SelfSignedClient("agent")
	if err != nil {
		t.Fatal(err)
	}
	other, err := tlstest.SelfSignedClient("other")
	if err != nil {
		t.Fatal(err)
	}
	tlsFiles := map[string]string{"client.pem": string(client.CertPEM), "client.key": string(client.KeyPEM),
		"other.key": string(other.KeyPEM), "ca.pem": string(client.CertPEM), "junk.pem": "not a certificate\n", "key": "secret\n"}
	const expiresSoon = `{{file}}:%d: sinks[0].tls.%s: certificate "agent" in {{dir}}/%s expires on `
	httpSink := func(tls string) string {
		return "sinks:\n  - type: http\n    url: https://127.0.0.1:1/\n    tls:\n" + tls
	}

	cases := []startCase{
		// YAML syntax: the line of the problem, and its column.
		{name: "bad indentation on line 3", config: "groups:\n  - group: 5\n   snaplen: 3\n",
			want: "{{file}}:3:4: not valid YAML: did not find expected '-' indicator"},
		{name: "unclosed quote", config: "hostname: \"fw1\nnetns: /x\n",
			want: "{{file}}:1:11: not valid YAML: found unexpected end of stream"},

		// Numbers: each bounded where it sizes memory or goroutines.
		{name: "queue_threshold beyond any kernel batch", config: "groups:\n  - group: 5\n    queue_threshold: 2147483648\n",
			want: `{{file}}:3: groups[0].queue_threshold: "2147483648": want an integer from 1 to 2048`},
		{name: "queue too large", config: "groups:\n  - group: 5\n    queue: 100000000\n",
			want: `{{file}}:3: groups[0].queue: "100000000": want an integer from 1 to 16777216`},
		{name: "read buffer too large", config: "groups:\n  - group: 5\n    read_buffer: 4GiB\n",
			want: `{{file}}:3: groups[0].read_buffer: "4GiB": want a size from 1 byte to 2GiB, such as 8MiB or 8388608`},
		{name: "sink concurrency", config: "sinks:\n  - type: http\n    url: https://127.0.0.1:1/\n    concurrency: 1000000\n",
			want: "{{file}}:4: sinks[0].concurrency: 1000000: want 1 to 64"},
		{name: "batch events", config: "sinks:\n  - type: stdout\n    batch: {max_events: 100000000}\n",
			want: "{{file}}:3: sinks[0].batch.max_events: 100000000: want 1 to 1048576"},
		{name: "batch bytes", config: "sinks:\n  - type: stdout\n    batch:\n      max_bytes: 4294967296\n",
			want: "{{file}}:4: sinks[0].batch.max_bytes: 4294967296: want 1 to 268435456"},
		{name: "retry attempts", config: "sinks:\n  - type: http\n    url: https://127.0.0.1:1/\n    retry: {attempts: 1000}\n",
			want: "{{file}}:4: sinks[0].retry.attempts: 1000: want 1 to 100"},
		{name: "spool memory events", config: "spool:\n  memory_events: 1000000000\n",
			want: `{{file}}:2: spool.memory_events: "1000000000": want an integer from 1 to 67108864`},

		// The network namespace.
		{name: "netns that does not exist", config: "netns: {{dir}}/fw\n",
			want: "{{file}}:1: netns: open {{dir}}/fw: no such file or directory"},
		{name: "netns that is a plain file", config: "netns: {{dir}}/key\n", files: tlsFiles,
			want: "{{file}}:1: netns: {{dir}}/key is not a namespace file: want /run/netns/NAME (ip netns add NAME) or /proc/PID/ns/net"},
		{name: "netns of another kind", config: "netns: /proc/self/ns/uts\n",
			want: "{{file}}:1: netns: /proc/self/ns/uts is a namespace, but not a network namespace"},
		{name: "netns of the agent's own", config: "netns: /proc/self/ns/net\n"},

		// Secrets.
		{name: "intake key file missing", config: "sinks:\n  - type: sekoia\n    region: fra1\n    intake_key_file: {{dir}}/sekoia.key\n",
			want: "{{file}}:4: sinks[0].intake_key_file: open {{dir}}/sekoia.key: no such file or directory"},
		{name: "intake key file empty", config: "sinks:\n  - type: sekoia\n    region: fra1\n    intake_key_file: {{dir}}/empty\n",
			files: map[string]string{"empty": "\n"},
			want:  "{{file}}:4: sinks[0].intake_key_file: {{dir}}/empty is empty"},
		{name: "intake key variable unset", config: "sinks:\n  - type: sekoia\n    region: fra1\n    intake_key_env: NFLOG_AGENT_TEST_UNSET\n",
			want: "{{file}}:4: sinks[0].intake_key_env: environment variable NFLOG_AGENT_TEST_UNSET is not set"},
		{name: "api key file missing", config: "sinks:\n  - type: elasticsearch\n    url: https://127.0.0.1:1\n    api_key_file: {{dir}}/api.key\n",
			want: "{{file}}:4: sinks[0].api_key_file: open {{dir}}/api.key: no such file or directory"},
		{name: "password file missing", config: "sinks:\n  - type: elasticsearch\n    url: https://127.0.0.1:1\n    username: agent\n    password_file: {{dir}}/pw\n",
			want: "{{file}}:5: sinks[0].password_file: open {{dir}}/pw: no such file or directory"},
		{name: "username without password", config: "sinks:\n  - type: elasticsearch\n    url: https://127.0.0.1:1\n    username: agent\n",
			want: "{{file}}:4: sinks[0].username: set exactly one of password_file and password_env"},
		{name: "intake key readable by all", config: "sinks:\n  - type: sekoia\n    region: fra1\n    intake_key_file: {{dir}}/open.key\n",
			files: map[string]string{"open.key": "secret\n"}, public: "open.key",
			warnings: []string{"{{file}}:4: sinks[0].intake_key_file: {{dir}}/open.key is readable by every user: chmod o-r {{dir}}/open.key"}},

		// Certificates and keys.
		{name: "CA file missing", config: httpSink("      ca_file: {{dir}}/missing.pem\n"),
			want: "{{file}}:5: sinks[0].tls.ca_file: open {{dir}}/missing.pem: no such file or directory"},
		{name: "CA file without a certificate", config: httpSink("      ca_file: {{dir}}/junk.pem\n"), files: tlsFiles,
			want: "{{file}}:5: sinks[0].tls.ca_file: {{dir}}/junk.pem holds no PEM certificate"},
		{name: "certificate without key", config: httpSink("      cert_file: {{dir}}/client.pem\n"), files: tlsFiles,
			want: "{{file}}:4: sinks[0].tls: cert_file and key_file go together"},
		{name: "certificate file missing", config: httpSink("      cert_file: {{dir}}/nope.pem\n      key_file: {{dir}}/client.key\n"), files: tlsFiles,
			want: "{{file}}:5: sinks[0].tls.cert_file: open {{dir}}/nope.pem: no such file or directory"},
		{name: "key file missing", config: httpSink("      cert_file: {{dir}}/client.pem\n      key_file: {{dir}}/nope.key\n"), files: tlsFiles,
			want: "{{file}}:6: sinks[0].tls.key_file: open {{dir}}/nope.key: no such file or directory"},
		{name: "key of another certificate", config: httpSink("      cert_file: {{dir}}/client.pem\n      key_file: {{dir}}/other.key\n"), files: tlsFiles,
			want: "{{file}}:6: sinks[0].tls.key_file: {{dir}}/client.pem and {{dir}}/other.key: tls: private key does not match public key"},
		{name: "certificate as key", config: httpSink("      cert_file: {{dir}}/client.key\n      key_file: {{dir}}/client.key\n"), files: tlsFiles,
			want: "{{file}}:5: sinks[0].tls.cert_file: {{dir}}/client.key and {{dir}}/client.key: tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched"},
		{name: "certificates that expire soon", config: httpSink("      ca_file: {{dir}}/ca.pem\n      cert_file: {{dir}}/client.pem\n      key_file: {{dir}}/client.key\n"),
			files:    tlsFiles,
			warnings: []string{fmt.Sprintf(expiresSoon, 6, "cert_file", "client.pem"), fmt.Sprintf(expiresSoon, 5, "ca_file", "ca.pem")}},
		{name: "verification off", config: httpSink("      insecure_skip_verify: true\n"),
			warnings: []string{"{{file}}:5: sinks[0].tls.insecure_skip_verify: certificate verification is off: anyone on the path can read and change the events"}},
		{name: "credentials over plain http", config: "sinks:\n  - type: http\n    url: http://127.0.0.1:1/\n    headers: {Authorization: Bearer x}\n",
			warnings: []string{"{{file}}:3: sinks[0].url: credentials would cross the network in clear text over http://: use https://"}},

		// Folders the agent writes to.
		{name: "file sink folder missing: created at start", config: "sinks:\n  - type: file\n    path: {{dir}}/log/events.ndjson\n",
			after: func(t *testing.T, dir string) {
				if _, err := os.Stat(filepath.Join(dir, "log", "events.ndjson")); err != nil {
					t.Errorf("the run side did not create the file sink's folder and file: %v", err)
				}
			}},
		{name: "file sink folder under a file", config: "sinks:\n  - type: file\n    path: {{dir}}/key/log/events.ndjson\n", files: tlsFiles,
			want: "{{file}}:3: sinks[0].path: folder {{dir}}/key/log cannot be created: {{dir}}/key is not a folder"},
		{name: "file sink path is a folder", config: "sinks:\n  - type: file\n    path: {{dir}}\n",
			want: "{{file}}:3: sinks[0].path: {{dir}} is a folder: want the path of a file"},
		{name: "file sink where nobody writes", config: "sinks:\n  - type: file\n    path: /proc/nflog-agent-check/events.ndjson\n",
			want: "{{file}}:3: sinks[0].path: folder /proc/nflog-agent-check cannot be created in /proc: no such file or directory"},
		{name: "file sink to a device", config: "sinks:\n  - type: file\n    path: /dev/null\n"},
		{name: "spool folder with a folder of the operator's in it", config: "spool:\n  dir: {{dir}}\n",
			files: map[string]string{"notes/todo": "x"}},
		{name: "spool folder missing: created at start", config: "spool:\n  dir: {{dir}}/spool\n",
			after: func(t *testing.T, dir string) {
				if _, err := os.Stat(filepath.Join(dir, "spool", "LOCK")); err != nil {
					t.Errorf("the run side did not open the spool: %v", err)
				}
			}},
		{name: "spool folder under a file", config: "spool:\n  dir: {{dir}}/key/spool\n", files: tlsFiles,
			want: "{{file}}:2: spool.dir: folder {{dir}}/key/spool cannot be created: {{dir}}/key is not a folder"},
		{name: "spool folder is a file", config: "spool:\n  dir: {{dir}}/key\n", files: tlsFiles,
			want: "{{file}}:2: spool.dir: {{dir}}/key is not a folder"},

		// Names, which the spool's cursor files carry.
		{name: "sink name unfit for a file name", config: "sinks:\n  - type: stdout\n    name: my sink\n",
			want: `{{file}}:3: sinks[0].name: spool: sink name "my sink": want 1-64 letters, digits, '_', '.' or '-'`},

		// Endpoints without authentication.
		{name: "metrics beyond loopback", config: "metrics:\n  listen: 0.0.0.0:0\n  pprof: true\n",
			warnings: []string{
				"{{file}}:2: metrics.listen: 0.0.0.0:0 is reachable beyond this host, and /metrics and /healthz have no authentication",
				"{{file}}:3: metrics.pprof: the profiler is reachable beyond this host: it shows the agent's memory and command line"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.test(t) })
	}
}

func (c startCase) test(t *testing.T) {
	dir := t.TempDir()
	for name, data := range c.files {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if c.public != "" {
		if err := os.Chmod(filepath.Join(dir, c.public), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(c.config, "{{dir}}", dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	expand := func(s string) string {
		return strings.NewReplacer("{{file}}", path, "{{dir}}", dir).Replace(s)
	}
	before := listTree(t, dir)

	var stdout, stderr bytes.Buffer
	status := run([]string{"check", "--config", path}, &stdout, &stderr)
	if c.want != "" {
		if want := "nflog-agent check: " + expand(c.want) + "\n"; status != 1 || stderr.String() != want {
			t.Errorf("check: exit %d, stderr\n%s\nwant exit 1, stderr\n%s", status, stderr.String(), want)
		}
		// The run command itself, stopped before it starts: the same words.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		stderr.Reset()
		if status := runAgent(ctx, []string{"--config", path}, io.Discard, &stderr, nil); status != 1 ||
			stderr.String() != "nflog-agent run: "+expand(c.want)+"\n" {
			t.Errorf("run: exit %d, stderr\n%s\nwant exit 1, stderr\nnflog-agent run: %s", status, stderr.String(), expand(c.want))
		}
		return
	}

	var warned []string
	for _, w := range c.warnings {
		warned = append(warned, "nflog-agent check: warning: "+expand(w))
	}
	lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
	if stderr.Len() == 0 {
		lines = nil
	}
	if status != 0 || stdout.String() != path+": ok\n" || !matchLines(lines, warned) {
		t.Errorf("check: exit %d, stdout %q, stderr\n%s\nwant exit 0, %s: ok, warnings\n%s", status, stdout.String(),
			stderr.String(), path, strings.Join(warned, "\n"))
	}
	if after := listTree(t, dir); !slices.Equal(before, after) {
		t.Errorf("check left a trace: files before %v, after %v", before, after)
	}
	// The run side: the same build, for real this time.
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := build(cfg, forRun, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		t.Fatalf("check passed, the run side failed: %v", err)
	}
	defer a.close()
	var runWarned []string
	for _, w := range a.warnings {
		runWarned = append(runWarned, "nflog-agent check: warning: "+w.Error())
	}
	if !matchLines(runWarned, warned) {
		t.Errorf("run side warnings\n%s\nwant\n%s", strings.Join(runWarned, "\n"), strings.Join(warned, "\n"))
	}
	if c.after != nil {
		c.after(t, dir)
	}
}

// matchLines says whether got has one line per want, each starting with
// it (dates in certificate warnings change).
func matchLines(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !strings.HasPrefix(got[i], want[i]) {
			return false
		}
	}
	return true
}

// listTree lists the paths under dir.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		out = append(out, p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A namespace made by `ip netns add` passes; once deleted, its path is an
// error for check and run alike.
func TestCheckNamedNetNS(t *testing.T) {
	ns := netlab.NewNS(t, "check")
	cfg := startCase{config: "netns: " + ns.Path() + "\n"}
	t.Run("present", cfg.test)
	netlab.Cmd(t, "ip", "netns", "del", ns.Name)
	cfg.want = "{{file}}:1: netns: open " + ns.Path() + ": no such file or directory"
	t.Run("deleted", cfg.test)
}
