package kernel

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// initPIDNamespaceIno is the inode number of the initial PID namespace
// (PROC_PID_INIT_INO), fixed by the kernel.
const initPIDNamespaceIno = 0xeffffffc

// PIDNamespace identifies this process's PID namespace as
// bpf_get_ns_current_pid_tgid takes one: the nsfs device and inode of
// /proc/self/ns/pid. Initial says whether it is the initial namespace,
// whose numbers the kernel's own pid and tid are.
func PIDNamespace() (dev, ino uint64, initial bool, err error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/pid", &st); err != nil {
		return 0, 0, false, fmt.Errorf("PID namespace: %w", err)
	}
	return st.Dev, st.Ino, st.Ino == initPIDNamespaceIno, nil
}
