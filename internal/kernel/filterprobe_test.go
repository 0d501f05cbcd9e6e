package kernel

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// TestFilterReadsUserPointers holds the probe's answer against a second
// witness of the same kernel: a tracefs instance whose sys_enter_openat
// filter tests the bare filename field, and an open of that name.
func TestFilterReadsUserPointers(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	root, _, err := Tracefs()
	if err != nil {
		t.Fatal(err)
	}
	events := NewEvents(os.DirFS(root))
	format, err := events.Format("syscalls", "sys_enter_openat")
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("no syscalls:sys_enter_openat event: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	testutil.LockTracepoint(t, format.ID)
	got, err := FilterReadsUserPointers(events)
	if err != nil {
		t.Fatal(err)
	}

	inst := testutil.TracefsInstance(t, root, fmt.Sprintf("ebtrace-kernel-%d", os.Getpid()))
	event := filepath.Join(inst, "events/syscalls/sys_enter_openat")
	marker := fmt.Sprintf("/nonexistent/ebtrace-witness-%d", os.Getpid())
	// The filter names this thread, so the open must come from it: lock
	// the goroutine to it before asking its ID.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := os.WriteFile(filepath.Join(event, "filter"), []byte(fmt.Sprintf("common_pid == %d && filename == %q", unix.Gettid(), marker)), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(event, "enable"), []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	unix.Openat(unix.AT_FDCWD, marker, unix.O_RDONLY, 0)
	if err := os.WriteFile(filepath.Join(event, "enable"), []byte("0"), 0); err != nil {
		t.Fatal(err)
	}
	trace, err := os.ReadFile(filepath.Join(inst, "trace"))
	if err != nil {
		t.Fatal(err)
	}
	kept := strings.Contains(string(trace), "sys_openat(")
	if got != kept {
		t.Errorf("FilterReadsUserPointers() = %v, but the instance's filter on the bare field kept the open: %v\n%s", got, kept, trace)
	}
	t.Logf("this kernel's filter reads a bare char * from user memory: %v", got)
}
