// Package testenv decides what a test does when the machine lacks what it
// needs (root, a command, a Debian package): on a developer's machine it
// skips, under CI (CI=true) it fails, so that CI can never go green by
// skipping the tests that exercise the real kernel, systemd or the package.
// It is meant to be imported by _test.go files only.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
)

// CI reports whether the tests run under CI, where everything a test needs
// must be installed (.ci/run does it): CI set to a true value, as CI
// services set it.
func CI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// Skipf skips the test, or fails it under CI, saying why.
func Skipf(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("%s (CI=true: required, not skipped)", msg)
	}
	t.Skip(msg)
}

// NeedRoot requires root; why says what for.
func NeedRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skipf(t, "needs root (%s)", why)
	}
}

// NeedCommand requires a command on PATH and returns its path; pkg is the
// Debian package that provides it.
func NeedCommand(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		Skipf(t, "%s not found (apt-get install %s)", name, pkg)
	}
	return path
}

// Tmpfs mounts a tmpfs of size bytes for the test (it needs root), unmounted
// at its end, and returns its path.
func Tmpfs(t testing.TB, size int) string {
	t.Helper()
	NeedRoot(t, "mounting a tmpfs")
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Fatalf("mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}
