package doctor

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/nflog-agent/nflog-agent/internal/config"
	"github.com/nflog-agent/nflog-agent/internal/writable"
	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// checkSpool checks the spool directory when one is configured.
func (d *Doctor) checkSpool(cfg *config.Config) checkResult {
	if cfg.Spool.Dir == "" {
		return checkResult{status: statusSkip, name: "spool directory",
			detail: "no spool.dir configured: events wait in memory and are lost at stop"}
	}
	minFree := uint64(cfg.Spool.MaxBytes)
	if minFree == 0 {
		minFree = spool.DefaultMaxBytes
	}
	return checkSpoolDir(cfg.Spool.Dir, minFree)
}

// checkSpoolDir checks that the agent can open the spool in dir (as
// `check` does), and that it has at least minFree bytes free for the spool
// to grow during an outage. A dir that does not exist yet is fine if it can
// be created: the agent creates it at start.
func checkSpoolDir(dir string, minFree uint64) checkResult {
	r := checkResult{name: "spool directory " + dir}
	if err := writable.SpoolFolder(dir); err != nil {
		r.status, r.detail = statusFail, err.Error()
		r.fix = "create it, owned by the agent's user (the packaged unit uses StateDirectory=nflog-agent: /var/lib/nflog-agent)"
		return r
	}
	where, state := dir, "writable"
	if _, err := os.Stat(dir); writable.Missing(err) {
		where = existingParent(dir)
		state = "does not exist yet; the agent creates it at start (" + where + " is writable)"
	}
	var st unix.Statfs_t
	if err := unix.Statfs(where, &st); err != nil {
		r.status, r.detail = statusWarn, fmt.Sprintf("%s, free space unknown: %v", state, err)
		return r
	}
	free := st.Bavail * uint64(st.Bsize)
	r.detail = fmt.Sprintf("%s, %d MiB free", state, free>>20)
	if free < minFree {
		r.status = statusWarn
		r.fix = fmt.Sprintf("free space, or move the spool: an outage can fill up to its size limit (want %d MiB free)", minFree>>20)
	}
	return r
}

// existingParent returns the nearest ancestor of dir that exists.
func existingParent(dir string) string {
	for p := filepath.Dir(filepath.Clean(dir)); ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil || p == filepath.Dir(p) {
			return p
		}
	}
}
