package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nflog-agent/nflog-agent/internal/testenv"
)

// deploy/deb-version, run in a scratch repository through a history of
// untagged commits, a release candidate, a release and later commits, gives
// versions that dpkg orders as time goes: untagged builds below any release
// (whatever their commit hash starts with), each build above the one
// before.
func TestDebVersionOrder(t *testing.T) {
	testenv.NeedCommand(t, "dpkg", "dpkg")
	testenv.NeedCommand(t, "git", "git")
	script, err := filepath.Abs("deb-version")
	if err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	git := func(date string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org",
			"GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	commit := func(date string) string {
		t.Helper()
		if err := os.WriteFile(filepath.Join(repo, "f"), []byte(date), 0o644); err != nil {
			t.Fatal(err)
		}
		git(date, "add", "f")
		git(date, "commit", "-q", "-m", date)
		return git(date, "rev-parse", "--short=7", "HEAD")
	}
	version := func() string {
		t.Helper()
		cmd := exec.Command(script)
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("deb-version: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}

	git("2026-01-01T00:00:00Z", "init", "-q")
	var versions []string
	step := func(want string) {
		t.Helper()
		v := version()
		if !regexp.MustCompile("^" + want + "$").MatchString(v) {
			t.Errorf("version %q, want %s", v, want)
		}
		versions = append(versions, v)
	}
	c := commit("2026-01-02T03:04:05+02:00")
	step(`0\.0\.0~git20260102010405\.` + c) // the commit date, in UTC
	c = commit("2026-01-03T00:00:00Z")
	step(`0\.0\.0~git20260103000000\.` + c)
	if err := os.WriteFile(filepath.Join(repo, "f"), []byte("edited"), 0o644); err != nil {
		t.Fatal(err)
	}
	step(`0\.0\.0~git20260103000000\.` + c + `\+dirty`)
	commit("2026-01-04T00:00:00Z")
	git("2026-01-04T00:00:00Z", "tag", "v0.1.0-rc1")
	step(`0\.1\.0~rc1`)
	c = commit("2026-01-05T00:00:00Z")
	step(`0\.1\.0~rc1\+git20260105000000\.` + c)
	commit("2026-01-06T00:00:00Z")
	git("2026-01-06T00:00:00Z", "tag", "v0.1.0")
	step(`0\.1\.0`)
	c = commit("2026-01-07T00:00:00Z")
	step(`0\.1\.0\+git20260107000000\.` + c)
	versions = append(versions, "0.1.1", "1.0.0")

	for i := 1; i < len(versions); i++ {
		if out, err := exec.Command("dpkg", "--compare-versions", versions[i-1], "lt", versions[i]).CombinedOutput(); err != nil {
			t.Errorf("dpkg: %s is not lower than %s %s", versions[i-1], versions[i], out)
		}
	}
	// The first untagged build is also below the first possible release.
	if err := exec.Command("dpkg", "--compare-versions", versions[0], "lt", "0.0.1").Run(); err != nil {
		t.Errorf("dpkg: %s is not lower than 0.0.1", versions[0])
	}
}
