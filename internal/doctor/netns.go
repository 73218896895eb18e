package doctor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/nflog-agent/nflog-agent/internal/nsfile"
)

// checkNetNS opens the configured network namespace as the agent will: a
// path that is missing or names no network namespace is a failure of the
// configuration, which running as root does not mend (unlike a namespace
// this user may not open).
func checkNetNS(path string) checkResult {
	r := checkResult{name: "network namespace"}
	f, err := nsfile.Open(path)
	if err != nil {
		r.status = statusFail
		r.detail = err.Error()
		r.fix = "`ip netns list` names the namespaces: set netns: /run/netns/NAME, or /proc/PID/ns/net of a process inside it"
		switch {
		case errors.Is(err, os.ErrNotExist):
			r.detail = path + " does not exist"
		case errors.Is(err, os.ErrPermission):
			r.fix = "run doctor as the agent runs: as root (sudo)"
		}
		return r
	}
	f.Close()
	r.detail = path + " is a network namespace"
	return r
}

// inNetNS runs fn on an OS thread that has joined the network namespace at
// path, or directly when path is empty. Commands fn starts inherit the
// thread's namespace. The thread is never returned to the scheduler: it
// exits with its goroutine, so no other goroutine can run in the wrong
// namespace.
func inNetNS(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(path)
		if err != nil {
			errc <- fmt.Errorf("network namespace: %w", err)
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("network namespace %s: setns: %w", path, err)
			return
		}
		errc <- fn()
	}()
	err := <-errc
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("exit status %d", ee.ExitCode())
	}
	return err
}
