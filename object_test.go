package ebtrace_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ebtrace/ebtrace"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// The objects are the command line's test objects, built with clang; the
// tests skip where it is missing.
const (
	legacyObject  = "cmd/ebtrace/testdata/run/legacy.bpf.c"
	getppidObject = "cmd/ebtrace/testdata/run/getppid.bpf.c"
	unknownObject = "cmd/ebtrace/testdata/run/unknown.bpf.c"
)

// loadObject opens and loads the object built from src, closing it when
// the test ends.
func loadObject(t *testing.T, src string, opts ebtrace.ObjectOptions) *ebtrace.Object {
	t.Helper()
	obj, err := ebtrace.OpenObject(testutil.BuildBPF(t, src), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { obj.Close() })
	if err := obj.Load(); err != nil {
		testutil.SkipUnsupported(t, err)
	}
	return obj
}

// TestObject lists and runs a 2015-style object on a command that calls
// getppid(2) three times: the run ends with the command, says on Log
// what it attached, and shows the count at exit. An object runs once.
func TestObject(t *testing.T) {
	requireKernel(t)
	path := testutil.BuildBPF(t, legacyObject)
	log := &testutil.Buffer{}
	obj, err := ebtrace.OpenObject(path, ebtrace.ObjectOptions{Command: []string{testutil.Workload(t), "getppid", "3"}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	var list strings.Builder
	if err := obj.List(&list); err != nil {
		t.Fatal(err)
	}
	if want := "events/syscalls/sys_enter_getppid  count_getppid  tracepoint:syscalls:sys_enter_getppid\n"; list.String() != want {
		t.Errorf("List:\n%s\nwant:\n%s", list.String(), want)
	}
	if err := obj.Run(t.Context(), io.Discard, ebtrace.RunObjectOptions{}); err == nil || err.Error() != "the object is not loaded: Load it first" {
		t.Errorf("Run before Load: %v", err)
	}
	if err := obj.Load(); err != nil {
		testutil.SkipUnsupported(t, err)
	}
	var out strings.Builder
	if err := obj.Run(t.Context(), &out, ebtrace.RunObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if want := "\n\n@counts[0]: 3\n"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	if want := "Running " + path + ": 1 program attached; Ctrl-C to stop\n"; log.String() != want {
		t.Errorf("Log %q, want %q", log.String(), want)
	}
	if err := obj.Run(t.Context(), io.Discard, ebtrace.RunObjectOptions{}); err == nil || err.Error() != "the object ran already: an object runs once" {
		t.Errorf("second Run: %v", err)
	}
}

// TestObjectProcess runs an object on a process that exists already
// (ObjectOptions.PID), with JSON output: the run ends when the process
// does.
func TestObjectProcess(t *testing.T) {
	requireKernel(t)
	w := testutil.StartGated(t, testutil.Workload(t), "wait", "getppid", "4")
	log := &testutil.Buffer{}
	obj := loadObject(t, legacyObject, ebtrace.ObjectOptions{PID: w.Pid(), Log: log})
	var out strings.Builder
	done := make(chan error, 1)
	go func() { done <- obj.Run(t.Context(), &out, ebtrace.RunObjectOptions{Format: "json"}) }()
	waitFor(t, func() bool { return strings.HasPrefix(log.String(), "Running ") })
	w.Release(t)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the run did not end with its process")
	}
	if want := `{"type": "map", "data": {"@counts": {"0": 4}}}` + "\n"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
}

// TestObjectStop ends runs by cancelling their context and by their
// Duration.
func TestObjectStop(t *testing.T) {
	requireKernel(t)
	t.Run("cancel", func(t *testing.T) {
		log := &testutil.Buffer{}
		obj := loadObject(t, legacyObject, ebtrace.ObjectOptions{Log: log})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- obj.Run(ctx, io.Discard, ebtrace.RunObjectOptions{}) }()
		waitFor(t, func() bool { return strings.HasPrefix(log.String(), "Running ") })
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the run did not end with its context")
		}
	})
	t.Run("duration", func(t *testing.T) {
		obj := loadObject(t, legacyObject, ebtrace.ObjectOptions{})
		const d = 200 * time.Millisecond
		began := time.Now()
		if err := obj.Run(t.Context(), io.Discard, ebtrace.RunObjectOptions{Duration: d}); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(began); took < d || took > d+5*time.Second {
			t.Errorf("the run took %v, want %v", took, d)
		}
	})
}

// TestObjectErrors checks what OpenObject, Load and Run refuse, before
// anything is loaded.
func TestObjectErrors(t *testing.T) {
	requireKernel(t)
	none := filepath.Join(t.TempDir(), "none.o")
	if _, err := ebtrace.OpenObject(none, ebtrace.ObjectOptions{}); !errors.Is(err, os.ErrNotExist) || err.Error() != "read "+none+": open "+none+": no such file or directory" {
		t.Errorf("OpenObject of a missing file: %v", err)
	}

	unknown, err := ebtrace.OpenObject(testutil.BuildBPF(t, unknownObject), ebtrace.ObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer unknown.Close()
	err = unknown.Load()
	var ue *ebtrace.UnattachableError
	if !errors.As(err, &ue) || len(ue.Programs) != 2 {
		t.Fatalf("Load: %v, want an *UnattachableError of two programs", err)
	}
	want := []string{
		`section "tracepoint/nosuchcategory/nosuchevent" (program missing): tracepoint:nosuchcategory:nosuchevent does not exist on this kernel`,
		`section "xdp" (program pass): ebtrace run attaches tracing programs only (sections tracepoint/, tp/, raw_tp/, raw_tracepoint/, tp_btf/, kprobe/, kretprobe/, ksyscall/, kretsyscall/, fentry/, fexit/, uprobe/, uretprobe/, usdt/, perf_event and the 2015 loader's events/)`,
	}
	for i, w := range want {
		if got := ue.Programs[i].Error(); !strings.HasPrefix(got, w) {
			t.Errorf("program %d: %s\nwant it to begin %s", i, got, w)
		}
	}

	getppid := testutil.BuildBPF(t, getppidObject)
	for _, c := range []struct {
		opts ebtrace.ObjectOptions
		want string
	}{
		{ebtrace.ObjectOptions{Hist: []string{"nosuch"}}, "the object has no map nosuch (it has by_label, calls, raw_calls, write_sizes)"},
		{ebtrace.ObjectOptions{Heatmap: []string{"by_label"}}, "map by_label: its keys are struct key, not log2 slots (integers)"},
		{ebtrace.ObjectOptions{Set: map[string]string{"label": "much too long"}}, "--set label=much too long: the string must be shorter than 8 bytes"},
		{ebtrace.ObjectOptions{Command: []string{"ebtrace-no-such-command"}}, `command: exec: "ebtrace-no-such-command": executable file not found in $PATH`},
	} {
		obj, err := ebtrace.OpenObject(getppid, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := obj.Load(); err == nil || err.Error() != c.want {
			t.Errorf("Load with %+v: %v, want %s", c.opts, err, c.want)
		}
		if err := obj.Close(); err != nil {
			t.Error(err)
		}
	}

	obj := loadObject(t, getppidObject, ebtrace.ObjectOptions{})
	if err := obj.Run(t.Context(), io.Discard, ebtrace.RunObjectOptions{Format: "xml"}); err == nil || err.Error() != `unknown format "xml": want text or json` {
		t.Errorf("Run with format xml: %v", err)
	}
}

// Run a BPF object built from C (clang -O2 -g -target bpf) on a command,
// as `ebtrace run -c 'ls /' tracex2.bpf.o` does: its programs attach
// where their sections say, and its maps are shown when ls has exited.
// This example needs root, as loading BPF programs does.
func ExampleOpenObject() {
	obj, err := ebtrace.OpenObject("tracex2.bpf.o", ebtrace.ObjectOptions{
		Command: []string{"ls", "/"},
		Hist:    []string{"write_size"},
		Log:     os.Stderr,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer obj.Close()
	if err := obj.Load(); err != nil {
		fmt.Println(err)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := obj.Run(ctx, os.Stdout, ebtrace.RunObjectOptions{}); err != nil {
		fmt.Println(err)
	}
}
