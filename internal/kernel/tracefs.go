package kernel

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// TracefsDirs are where tracefs is looked for, in order; the first is where
// it is mounted when neither holds it.
var TracefsDirs = []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}

// Tracefs finds the tracefs root: the first of /sys/kernel/tracing and
// /sys/kernel/debug/tracing that holds an events directory. When neither
// does and we are root, it mounts tracefs at /sys/kernel/tracing and reports
// mounted=true. Without root it returns an error wrapping fs.ErrPermission.
func Tracefs() (root string, mounted bool, err error) {
	return findTracefs(TracefsDirs, os.Geteuid(), mountTracefs)
}

func mountTracefs(dir string) error {
	return unix.Mount("nodev", dir, "tracefs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
}

func findTracefs(dirs []string, euid int, mount func(dir string) error) (string, bool, error) {
	var denied error
	for _, dir := range dirs {
		ok, err := hasEvents(dir)
		if ok {
			return dir, false, nil
		}
		if denied == nil && errors.Is(err, fs.ErrPermission) {
			denied = err
		}
	}
	if denied != nil {
		return "", false, fmt.Errorf("tracefs needs root: %w", denied)
	}
	if euid != 0 {
		return "", false, fmt.Errorf("tracefs is not mounted and mounting it needs root: %w", fs.ErrPermission)
	}
	dir := dirs[0]
	if err := mount(dir); err != nil {
		return "", false, fmt.Errorf("mount tracefs at %s: %w", dir, err)
	}
	if ok, err := hasEvents(dir); !ok {
		return "", true, fmt.Errorf("mounted tracefs at %s but found no events directory: %w", dir, err)
	}
	return dir, true, nil
}

// hasEvents reports whether dir/events is a directory.
func hasEvents(dir string) (bool, error) {
	fi, err := os.Stat(filepath.Join(dir, "events"))
	if err != nil {
		return false, err
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("%s is not a directory: %w", filepath.Join(dir, "events"), fs.ErrNotExist)
	}
	return true, nil
}

// Live returns Events over the running kernel's tracefs, found (or mounted)
// by Tracefs; mounted reports whether it had to mount tracefs.
func Live() (ev *Events, mounted bool, err error) {
	root, mounted, err := Tracefs()
	if err != nil {
		return nil, mounted, err
	}
	return NewEvents(tracefsFS{FS: os.DirFS(root), root: root}), mounted, nil
}

// tracefsFS is os.DirFS(root) whose ReadFile is readFile's, for the
// hundreds of format files of a wildcard, and whose Stat is stat(2)'s,
// not an open file's.
type tracefsFS struct {
	fs.FS
	root string
}

func (t tracefsFS) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
	}
	return os.Stat(filepath.Join(t.root, name))
}

func (t tracefsFS) ReadFile(name string) ([]byte, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: fs.ErrInvalid}
	}
	return readFile(filepath.Join(t.root, name))
}

// readFile is os.ReadFile with no system call but open, read and close.
// os.ReadFile also offers each file to the runtime's poller, an epoll_ctl
// and four fcntl calls that a file of tracefs, procfs or tmpfs refuses or
// undoes: on a machine where every system call flushes the kernel's TLB,
// they cost more than the reading.
func readFile(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, 0, 4096)
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, cap(buf))
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		case n == 0:
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}
