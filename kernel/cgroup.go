package kernel

import (
	"encoding/binary"
	"fmt"

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
