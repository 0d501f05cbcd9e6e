package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BPFObjects lists the IDs of the BPF programs and links process pid
// holds, from its file descriptors' fdinfo. Other tests may load programs
// at the same time, so callers check by ID, not by name.
func BPFObjects(t testing.TB, pid int) (progs, links []int) {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		target, _ := os.Readlink(filepath.Join(dir, fd.Name()))
		info, _ := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%s", pid, fd.Name()))
		for _, line := range strings.Split(string(info), "\n") {
			var id int
			switch {
			case target == "anon_inode:bpf-prog" && strings.HasPrefix(line, "prog_id:"):
				fmt.Sscanf(line, "prog_id:%d", &id)
				progs = append(progs, id)
			case target == "anon_inode:bpf_link" && strings.HasPrefix(line, "link_id:"):
				fmt.Sscanf(line, "link_id:%d", &id)
				links = append(links, id)
			}
		}
	}
	return progs, links
}
