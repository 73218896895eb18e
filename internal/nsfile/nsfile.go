// Package nsfile opens network namespace files, refusing a path that names
// no network namespace before any socket is opened in it.
package nsfile

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Open opens a network namespace file, such as /run/netns/NAME (what
// `ip netns add NAME` creates) or /proc/PID/ns/net. A path that exists but
// names no namespace (a file left behind once the namespace was unmounted)
// or another kind of namespace is an error here, not an EINVAL when the
// first socket is opened in it.
func Open(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if st.Type != unix.NSFS_MAGIC {
		f.Close()
		return nil, fmt.Errorf("%s is not a namespace file: want /run/netns/NAME (ip netns add NAME) or /proc/PID/ns/net", path)
	}
	kind, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_NSTYPE)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: namespace type: %w", path, err)
	}
	if kind != unix.CLONE_NEWNET {
		f.Close()
		return nil, fmt.Errorf("%s is a namespace, but not a network namespace", path)
	}
	return f, nil
}
