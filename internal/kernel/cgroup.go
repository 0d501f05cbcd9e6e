package kernel

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// CgroupID returns the id of the cgroup v2 directory path, the value
// bpf_get_current_cgroup_id returns for its tasks: cgroupfs file handles
// hold exactly that 64-bit id.
func CgroupID(path string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("cgroup %s: %w", path, err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		return 0, fmt.Errorf("%s is not in a cgroup v2 file system (cgroup2 is often mounted at /sys/fs/cgroup or /sys/fs/cgroup/unified)", path)
	}
	h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, path, 0)
	if err != nil {
		return 0, fmt.Errorf("cgroup %s: %w", path, err)
	}
	if b := h.Bytes(); len(b) == 8 {
		return binary.LittleEndian.Uint64(b), nil
	}
	return 0, fmt.Errorf("cgroup %s: file handle of %d bytes, want 8", path, h.Size())
}

// CgroupPath returns the path below the cgroup2 mount of the cgroup whose
// id is id ("/system.slice/ssh.service", "/" for the root), as
// /proc/PID/cgroup shows it; false when no cgroup has that id. The
// hierarchy is walked again only for an id not seen before, since cgroups
// come and go; an id a walk did not find (its cgroup removed) is
// remembered as missing, since ids are never reused.
func CgroupPath(id uint64) (string, bool) {
	cgroupPaths.Lock()
	defer cgroupPaths.Unlock()
	if p, ok := cgroupPaths.byID[id]; ok {
		return p, p != ""
	}
	root := cgroup2Mount()
	if root == "" {
		return "", false
	}
	byID := map[uint64]string{}
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if cid, err := CgroupID(path); err == nil {
			rel, _ := filepath.Rel(root, path)
			byID[cid] = filepath.Clean("/" + rel)
		}
		return nil
	})
	for old, p := range cgroupPaths.byID {
		if p == "" {
			byID[old] = ""
		}
	}
	if _, ok := byID[id]; !ok {
		byID[id] = ""
	}
	cgroupPaths.byID = byID
	p := byID[id]
	return p, p != ""
}

var cgroupPaths struct {
	sync.Mutex
	byID map[uint64]string // "" for an id known to be missing
}

// cgroup2Mount is where the cgroup v2 hierarchy is mounted, from
// /proc/self/mountinfo; "" when it is not. It is read once: every id not
// seen before asks.
var cgroup2Mount = sync.OnceValue(func() string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS... - FSTYPE SOURCE SUPER
		pre, post, ok := strings.Cut(line, " - ")
		fields := strings.Fields(pre)
		if ok && strings.HasPrefix(post, "cgroup2 ") && len(fields) >= 5 {
			return fields[4]
		}
	}
	return ""
})
