package kernel

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

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
	return NewEvents(os.DirFS(root)), mounted, nil
}
