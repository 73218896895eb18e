package nsfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Only a network namespace opens: a missing path, a plain file and another
// kind of namespace are refused, each saying why.
func TestOpen(t *testing.T) {
	f, err := Open("/proc/self/ns/net")
	if err != nil {
		t.Fatalf("this process's network namespace: %v", err)
	}
	f.Close()
	plain := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(plain, nil, 0o600)
	for path, want := range map[string]string{
		filepath.Join(t.TempDir(), "missing"): "no such file or directory",
		plain:                                 "is not a namespace file",
		"/proc/self/ns/uts":                   "is a namespace, but not a network namespace",
	} {
		if f, err := Open(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", path, err, want)
			if f != nil {
				f.Close()
			}
		}
	}
}
