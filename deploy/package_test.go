package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/nflog-agent/nflog-agent/internal/netlab"
	"github.com/nflog-agent/nflog-agent/internal/testenv"
)

// buildDeb builds the package with `make deb` (nfpm with deploy/nfpm.yaml,
// the binary, the gzipped man page and changelog) into dir and returns its
// path.
func buildDeb(t *testing.T, dir, version string) string {
	t.Helper()
	testenv.NeedCommand(t, "make", "make")
	mk := exec.Command("make", "--no-print-directory", "deb", "BIN_DIR="+filepath.Join(dir, "bin"),
		"DIST_DIR="+filepath.Join(dir, "dist"), "DEB_VERSION="+version)
	mk.Dir = ".."
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make deb: %v\n%s", err, out)
	}
	return filepath.Join(dir, "dist", "nflog-agent_"+version+"_"+runtime.GOARCH+".deb")
}

// The Debian package holds the binary, the unit, the config as a conffile,
// the rules, the man page and the maintainer scripts, and lintian finds
// nothing wrong with it.
func TestDebianPackage(t *testing.T) {
	testenv.NeedCommand(t, "dpkg-deb", "dpkg")
	tmp := t.TempDir()
	deb := buildDeb(t, tmp, "1.2.3~test")

	// Contents: path → mode and owner as dpkg-deb -c prints them.
	files := map[string]string{}
	for _, line := range strings.Split(netlab.Cmd(t, "dpkg-deb", "-c", deb), "\n") {
		if f := strings.Fields(line); len(f) == 6 {
			files[strings.TrimPrefix(f[5], ".")] = f[0] + " " + f[1]
		}
	}
	for path, want := range map[string]string{
		"/usr/bin/nflog-agent":                                "-rwxr-xr-x root/root",
		"/usr/lib/systemd/system/nflog-agent.service":         "-rw-r--r-- root/root",
		"/etc/nflog-agent/nflog-agent.yaml":                   "-rw-r----- root/root", // postinst gives it group nflog-agent
		"/usr/share/nflog-agent/nflog-agent.nft":              "-rw-r--r-- root/root",
		"/usr/share/nflog-agent/sekoia-output.nft":            "-rw-r--r-- root/root",
		"/usr/share/nflog-agent/input-drop.nft":               "-rw-r--r-- root/root",
		"/usr/share/nflog-agent/forward.nft":                  "-rw-r--r-- root/root",
		"/usr/share/nflog-agent/iptables-nflog.rules":         "-rw-r--r-- root/root",
		"/usr/share/doc/nflog-agent/MIGRATING-FROM-ULOGD2.md": "-rw-r--r-- root/root",
		"/usr/share/doc/nflog-agent/docs/configuration.md":    "-rw-r--r-- root/root",
		"/usr/share/doc/nflog-agent/copyright":                "-rw-r--r-- root/root",
		"/usr/share/doc/nflog-agent/changelog.gz":             "-rw-r--r-- root/root",
		"/usr/share/man/man8/nflog-agent.8.gz":                "-rw-r--r-- root/root",
		"/usr/share/lintian/overrides/nflog-agent":            "-rw-r--r-- root/root",
	} {
		if got, ok := files[path]; !ok {
			t.Errorf("package lacks %s", path)
		} else if got != want {
			t.Errorf("%s: %s, want %s", path, got, want)
		}
	}

	info := netlab.Cmd(t, "dpkg-deb", "-I", deb)
	for _, want := range []string{"Package: nflog-agent", "Version: 1.2.3~test", "Architecture: " + runtime.GOARCH,
		"conffiles", "postinst", "prerm", "postrm"} {
		if !strings.Contains(info, want) {
			t.Errorf("dpkg-deb -I lacks %q:\n%s", want, info)
		}
	}
	control := filepath.Join(tmp, "control")
	netlab.Cmd(t, "dpkg-deb", "-e", deb, control)
	if c, _ := os.ReadFile(filepath.Join(control, "conffiles")); strings.TrimSpace(string(c)) != "/etc/nflog-agent/nflog-agent.yaml" {
		t.Errorf("conffiles: %q", c)
	}
	for _, script := range []string{"postinst", "prerm", "postrm"} {
		netlab.Cmd(t, "sh", "-n", filepath.Join(control, script))
	}
	if p, _ := os.ReadFile(filepath.Join(control, "postinst")); !strings.Contains(string(p), "useradd --system") ||
		!strings.Contains(string(p), "chown root:nflog-agent /etc/nflog-agent/nflog-agent.yaml") {
		t.Errorf("postinst does not create the system user and hand it the config:\n%s", p)
	}

	// The packaged binary accepts the packaged config.
	root := filepath.Join(tmp, "root")
	netlab.Cmd(t, "dpkg-deb", "-x", deb, root)
	out := netlab.Cmd(t, filepath.Join(root, "usr/bin/nflog-agent"), "check", "--config", filepath.Join(root, "etc/nflog-agent/nflog-agent.yaml"))
	if !strings.HasSuffix(out, ": ok\n") {
		t.Errorf("check of the packaged config: %q", out)
	}

	t.Run("man page", func(t *testing.T) { checkManPage(t, root) })
	t.Run("lintian", func(t *testing.T) { checkLintian(t, deb) })
}
