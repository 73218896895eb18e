package deploy

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nflog-agent/nflog-agent/internal/testenv"
)

// checkManPage renders the packaged nflog-agent(8) as man would, with
// groff's warnings on: it must render cleanly and describe every command
// the packaged binary's --help lists.
func checkManPage(t *testing.T, root string) {
	testenv.NeedCommand(t, "man", "man-db")
	page := filepath.Join(root, "usr/share/man/man8/nflog-agent.8.gz")
	cmd := exec.Command("man", "--warnings", "-E", "UTF-8", "-l", page)
	cmd.Env = append(cmd.Environ(), "LC_ALL=C.UTF-8", "MANWIDTH=80")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("man -l %s: %v\n%s", page, err, stderr.String())
	}
	text := stdout.String()
	if !strings.Contains(text, "NFLOG-AGENT(8)") {
		t.Errorf("not a section 8 page:\n%s", text)
	}

	help, err := exec.Command(filepath.Join(root, "usr/bin/nflog-agent"), "--help").Output()
	if err != nil {
		t.Fatalf("nflog-agent --help: %v", err)
	}
	commands := regexp.MustCompile(`(?m)^  ([a-z]+)\b`).FindAllStringSubmatch(string(help), -1)
	if len(commands) < 6 {
		t.Fatalf("--help lists %d commands:\n%s", len(commands), help)
	}
	for _, c := range commands {
		if !regexp.MustCompile(`(?m)^ {7}` + c[1] + `\b`).MatchString(text) {
			t.Errorf("the man page does not describe the command %q", c[1])
		}
	}
}

// checkLintian runs Debian's package checker: no error and no warning that
// the package does not explain in its lintian overrides file.
func checkLintian(t *testing.T, deb string) {
	testenv.NeedCommand(t, "lintian", "lintian")
	out, err := exec.Command("lintian", "--fail-on", "error,warning", "--display-info", deb).CombinedOutput()
	if err != nil {
		t.Errorf("lintian: %v\n%s", err, out)
	}
	t.Logf("lintian:\n%s", out)
}
