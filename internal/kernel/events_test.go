package kernel

import (
	"errors"
	"os"
	"reflect"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/glob"
)

func TestTracepoints(t *testing.T) {
	want := []Tracepoint{
		{"kmem", "kmalloc"},
		{"raw_syscalls", "sys_enter"},
		{"sched", "sched_process_exec"},
		{"sched", "sched_switch"},
		{"syscalls", "sys_enter_execve"},
		{"syscalls", "sys_enter_getppid"},
		{"syscalls", "sys_enter_openat"},
		{"syscalls", "sys_enter_write"},
		{"syscalls", "sys_exit_getppid"},
		{"syscalls", "sys_exit_openat"},
		{"task", "task_rename"},
	}
	ev := fakeEvents()
	for range 2 {
		got, err := ev.Tracepoints()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Tracepoints() = %v, want %v", got, want)
		}
		got[0].Name = "clobbered"
	}
}

func TestMatch(t *testing.T) {
	ev := fakeEvents()
	tests := []struct {
		pattern string
		want    []Tracepoint
	}{
		{"syscalls:sys_enter_openat", []Tracepoint{{"syscalls", "sys_enter_openat"}}},
		{"syscalls:sys_*_getppid", []Tracepoint{{"syscalls", "sys_enter_getppid"}, {"syscalls", "sys_exit_getppid"}}},
		{"syscalls:sys_exit_*", []Tracepoint{{"syscalls", "sys_exit_getppid"}, {"syscalls", "sys_exit_openat"}}},
		{"*:sys_enter", []Tracepoint{{"raw_syscalls", "sys_enter"}}},
		{"s*:*_s?itch", []Tracepoint{{"sched", "sched_switch"}}},
		{"*sys*:sys_enter_[ow]*", []Tracepoint{{"syscalls", "sys_enter_openat"}, {"syscalls", "sys_enter_write"}}},
		{"ta?k:*", []Tracepoint{{"task", "task_rename"}}},
		{"syscalls:sys_e[!n]*_openat", []Tracepoint{{"syscalls", "sys_exit_openat"}}},
		{"syscalls:sys\\_enter_openat", []Tracepoint{{"syscalls", "sys_enter_openat"}}},
		{"syscalls:nope*", nil},
		{"nope:*", nil},
	}
	for _, tt := range tests {
		got, err := ev.Match(tt.pattern)
		if err != nil {
			t.Errorf("Match(%q): %v", tt.pattern, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Match(%q) = %v, want %v", tt.pattern, got, tt.want)
		}
	}
	if all, err := ev.Match("*:*"); err != nil || len(all) != 11 {
		t.Errorf("Match(*:*) = %d tracepoints, %v; want 11", len(all), err)
	}
	if _, err := ev.Match("syscalls"); err == nil {
		t.Error("Match(syscalls) succeeded, want error")
	}
	for _, bad := range []string{"sys[:x", "x:sys[", "x:a\\", "x:[z-a]"} {
		if _, err := ev.Match(bad); !errors.Is(err, glob.ErrBadPattern) {
			t.Errorf("Match(%q) = %v, want glob.ErrBadPattern", bad, err)
		}
	}
}

func TestFormat(t *testing.T) {
	ev := fakeEvents()
	f, err := ev.Format("syscalls", "sys_enter_openat")
	if err != nil {
		t.Fatal(err)
	}
	if f.Tracepoint != (Tracepoint{"syscalls", "sys_enter_openat"}) || f.ID != 782 {
		t.Errorf("Format = %v id %d", f.Tracepoint, f.ID)
	}
	again, err := ev.Format("syscalls", "sys_enter_openat")
	if err != nil || again != f {
		t.Errorf("second Format = %p, %v; want cached %p", again, err, f)
	}
	for _, tp := range []Tracepoint{
		{"syscalls", "sys_enter_nope"},
		{"nope", "sys_enter_openat"},
		{"syscalls", ""},
		{"..", "syscalls"},
		{"syscalls/sys_enter_openat", "."},
		{"syscalls", "sys_enter_openat/format"},
	} {
		_, err := ev.Format(tp.Category, tp.Name)
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Format(%q, %q) error = %v, want os.ErrNotExist", tp.Category, tp.Name, err)
		}
	}
}

func TestFindTracefs(t *testing.T) {
	withEvents := t.TempDir()
	if err := os.Mkdir(withEvents+"/events", 0o755); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	missing := t.TempDir() + "/missing"
	noMount := func(string) error { t.Error("mount called"); return nil }

	if root, mounted, err := findTracefs([]string{empty, withEvents}, 1000, noMount); root != withEvents || mounted || err != nil {
		t.Errorf("second dir: %q %v %v", root, mounted, err)
	}
	if _, _, err := findTracefs([]string{empty, missing}, 1000, noMount); !errors.Is(err, os.ErrPermission) {
		t.Errorf("not root: error %v, want os.ErrPermission", err)
	}

	var mountedAt string
	mount := func(dir string) error { mountedAt = dir; return os.Mkdir(dir+"/events", 0o755) }
	if root, mounted, err := findTracefs([]string{empty, missing}, 0, mount); root != empty || !mounted || err != nil || mountedAt != empty {
		t.Errorf("mount: %q %v %v, mounted at %q", root, mounted, err, mountedAt)
	}

	failing := func(string) error { return os.ErrPermission }
	if _, _, err := findTracefs([]string{missing}, 0, failing); !errors.Is(err, os.ErrPermission) {
		t.Errorf("failed mount: error %v", err)
	}
	if _, mounted, err := findTracefs([]string{missing}, 0, func(string) error { return nil }); err == nil || !mounted {
		t.Errorf("mount without events: mounted %v, error %v", mounted, err)
	}
}

func TestLive(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("reading tracefs needs root")
	}
	ev, mounted, err := Live()
	switch {
	case errors.Is(err, unix.ENODEV), errors.Is(err, unix.ENOENT): // no such file system, no mount point
		t.Skipf("this kernel has no tracefs (CONFIG_TRACING is off): %v", err)
	case errors.Is(err, unix.EPERM):
		t.Skipf("tracefs is not mounted, and this root may not mount it (a container?): %v", err)
	case err != nil:
		t.Fatal(err)
	}
	t.Logf("mounted tracefs: %v", mounted)
	start := time.Now()
	tps, err := ev.Tracepoints()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Tracepoints: %d events in %v", len(tps), time.Since(start))
	if len(tps) <= 100 {
		t.Errorf("Tracepoints() = %d events, want > 100", len(tps))
	}
	f, err := ev.Format("syscalls", "sys_enter_openat")
	if err != nil {
		t.Fatal(err)
	}
	fld, ok := f.Field("filename")
	if !ok || fld.Offset != 24 || fld.Size != 8 {
		t.Errorf("syscalls:sys_enter_openat filename = %+v, %v; want offset 24 size 8", fld, ok)
	}
	start = time.Now()
	for _, tp := range tps {
		if _, err := ev.Format(tp.Category, tp.Name); err != nil {
			t.Errorf("Format(%s): %v", tp, err)
		}
	}
	t.Logf("parsed every format in %v", time.Since(start))
	if m, err := ev.Match("syscalls:sys_enter_openat"); err != nil || len(m) != 1 {
		t.Errorf("Match(syscalls:sys_enter_openat) = %v, %v", m, err)
	}
}

// fakeTree is the tracefs tree of real format files that package
// kerneltest embeds for other packages' tests.
const fakeTree = "../kerneltest/testdata/tracefs"

func fakeEvents() *Events { return NewEvents(os.DirFS(fakeTree)) }
