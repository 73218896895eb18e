// Package writable answers whether the agent can write where its
// configuration says: a file sink's file, the spool's folder. It tries what
// the agent will do (create a folder, open a file for writing) and undoes
// it, so that read-only mounts, ACLs and file systems like /proc answer as
// they would at start, yet `check` run by root leaves no root-owned folder
// behind for the agent's user to trip over. The answers hold for the user
// that asks: the agent's own when systemd runs the check before the start.
package writable

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// Appendable reports why a file sink could not append to path: the
// path is a folder or a file that is not writable, or its folder does not
// exist and cannot be created (the sink creates it), or is not writable.
func Appendable(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return fmt.Errorf("%s is a folder: want the path of a file", path)
	case err == nil && !fi.Mode().IsRegular():
		// A pipe or a device: opening a pipe would wait for its reader.
		if err := unix.Access(path, unix.W_OK); err != nil {
			return fmt.Errorf("%s is not writable: %w", path, err)
		}
		return nil
	case err == nil:
		if err := tryOpen(path, os.O_WRONLY|os.O_APPEND); err != nil {
			return fmt.Errorf("%s is not writable: %w", path, err)
		}
		return nil
	case !Missing(err):
		return err
	}
	return Folder(filepath.Dir(path))
}

// Folder reports why files could not be created in dir: it is not a
// folder or not writable, or it does not exist and the nearest folder
// above it is not writable or not a folder.
func Folder(dir string) error {
	dir = filepath.Clean(dir)
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			if !Missing(err) || p == filepath.Dir(p) {
				return err
			}
			continue
		}
		switch {
		case !fi.IsDir() && p == dir:
			return fmt.Errorf("%s is not a folder", dir)
		case !fi.IsDir():
			return fmt.Errorf("folder %s cannot be created: %s is not a folder", dir, p)
		}
		if err := tryMkdir(p); err != nil {
			if p == dir {
				return fmt.Errorf("folder %s is not writable: %w", dir, err)
			}
			return fmt.Errorf("folder %s cannot be created in %s: %w", dir, p, err)
		}
		return nil
	}
}

// SpoolFolder reports why the spool could not be opened in dir: the
// folder cannot be created or written, or a file in it (segments, cursors,
// the lock) cannot be read and written, as after a run under another user.
func SpoolFolder(dir string) error {
	if err := Folder(dir); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if Missing(err) {
		return nil // created at start
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue // not the spool's: it keeps regular files only
		}
		p := filepath.Join(dir, e.Name())
		if err := tryOpen(p, os.O_RDWR); err != nil {
			return fmt.Errorf("%s cannot be read and written by this user (was the agent run as another?): %w", p, err)
		}
	}
	return nil
}

// tryOpen opens path with flag (no O_CREATE, nothing written) and closes
// it, returning the bare reason when it cannot.
func tryOpen(path string, flag int) error {
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return Reason(err)
	}
	return f.Close()
}

// tryMkdir creates a folder in dir and removes it, returning the bare
// reason when it cannot.
func tryMkdir(dir string) error {
	d, err := os.MkdirTemp(dir, ".nflog-agent-check-*")
	if err != nil {
		return Reason(err)
	}
	return os.Remove(d)
}

// Reason is the cause inside a *fs.PathError, whose path the callers'
// messages already name.
func Reason(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Missing says whether err means that a path does not exist, including a
// path that runs through a file (ENOTDIR).
func Missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}
