package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// LockTracepoint makes the test take its turn with the tests of every
// package that attach a filter program to the tracepoint with ID id
// through perf (PerfFilterCount's lock file), until it ends: the kernel
// keeps a perf sample only when every program on the tracepoint keeps it,
// so such tests hide each other's events.
func LockTracepoint(t testing.TB, id uint32) {
	t.Helper()
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), fmt.Sprintf("ebtrace-perf-filter-%d.lock", id)), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Close() })
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatalf("lock %s: %v", lock.Name(), err)
	}
}
