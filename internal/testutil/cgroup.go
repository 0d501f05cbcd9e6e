package testutil

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// CgroupDir returns the cgroup v2 directory of the calling process, which
// the processes it starts share; it skips the test when there is none.
func CgroupDir(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("no /proc/self/cgroup (CONFIG_CGROUPS is off): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	rel := ""
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			rel = p
		}
	}
	mounts, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(mounts))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 2 && f[2] == "cgroup2" && rel != "" {
			return filepath.Join(f[1], rel)
		}
	}
	t.Skip("this process is in no cgroup v2 hierarchy")
	return ""
}
