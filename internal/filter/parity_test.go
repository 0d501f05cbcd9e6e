package filter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// parityCase is one filter run against both the kernel's ftrace filter and
// ebtrace's compiled one, with the same workload.
type parityCase struct {
	category, name string
	expr           string   // the filter; COMM stands for the workload's comm
	args           []string // workload arguments; DIR is the test's temp dir
	ident          string   // the field that tells kept events apart
	kept           int      // how many events the kernel keeps; -1: some
	// scope replaces the usual COMM == "fltwlN" prefix, for events that
	// fire while another task runs.
	scope string
}

// TestParity is the filter's key test: for each expression, the events
// that a BPF program compiled from it keeps are exactly those the kernel's
// own filter (in a tracefs instance) keeps, compared as multisets of one
// identifying field. Both sides see the expression prefixed with
// COMM == "fltwlN" &&, the workload's unique comm, and each case also
// checks how many events the kernel kept, so a filter that keeps
// everything or nothing on both sides fails.
func TestParity(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	root, _, err := kernel.Tracefs()
	if err != nil {
		t.Fatal(err) // RequireTracefs found it
	}
	bin, comm := testutil.Renamed(t, testutil.Workload(t), "fltwl")
	dir := t.TempDir()
	for _, name := range []string{"alpha.txt", "beta.log", "gamma.txt", "a[1].txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write := []string{"write", "1", "40"}
	open := []string{"open", "DIR/alpha.txt", "DIR/beta.log", "DIR/gamma.txt", "DIR/a[1].txt", "DIR/missing.txt"}
	exec := []string{"exec", "/bin/true"}
	pinned := []string{"taskset", "-c", "1", "BIN", "write", "1", "40"}
	last := comm[len(comm)-1:]
	events := kernel.NewEvents(os.DirFS(root))
	opts := liveOptions(t)
	// Whether the kernel keeps anything on a bare char * into user memory
	// is a fact about its build: it asks the kernel.
	userReads, err := opts.UserPointers()
	if err != nil {
		t.Fatal(err)
	}
	plainKept, plainTxt := 0, 0
	if userReads {
		plainKept, plainTxt = -1, 4
	}
	cases := []parityCase{
		{"syscalls", "sys_enter_write", "count == 7", write, "count", 1, ""},
		{"syscalls", "sys_enter_write", "count > 5 && count <= 12", write, "count", 7, ""},
		{"syscalls", "sys_enter_write", "count & 4", write, "count", 20, ""},
		{"syscalls", "sys_enter_write", "count < 3 || count >= 38", write, "count", 5, ""},
		{"syscalls", "sys_enter_write", "!(count & 1) && fd != 0", write, "count", 20, ""},
		{"syscalls", "sys_enter_write", "count == 0x10 || count == 020 || count == 0X1f", write, "count", 2, ""},
		{"syscalls", "sys_enter_write", "count < 4 || count > 36 && count != 39", write, "count", 6, ""},
		{"syscalls", "sys_enter_write", "(count < 4 || count > 36) && count != 39", write, "count", 6, ""},
		{"syscalls", "sys_enter_write", `comm == "WLCOMM" && count < 3`, write, "count", 2, ""},
		{"syscalls", "sys_enter_write", `COMM ~ "fltw*" && count > 38`, write, "count", 2, ""},
		{"syscalls", "sys_enter_write", `COMM ~ "*wl*" && count == 1`, write, "count", 1, ""},
		{"syscalls", "sys_enter_write", `COMM ~ "*` + last + `" || count == 2`, write, "count", 1, ""},
		{"syscalls", "sys_enter_write", `COMM ~ "f?t[a-z]*[0-9]" && count < 3`, write, "count", 2, ""},
		{"syscalls", "sys_enter_write", `COMM ~ "!flt*" || count == 3`, write, "count", 1, ""},
		{"syscalls", "sys_enter_write", `comm != "WLCOMM" || count == 4`, write, "count", 1, ""},
		{"syscalls", "sys_enter_write", "common_type == TYPE && count == 5", write, "count", 1, ""},
		// The Go runtime may move the writes off the main thread, whose id
		// is the PID, so how many this keeps varies; parity must hold.
		{"syscalls", "sys_enter_write", "common_pid == WLPID && count < 3 || common_pid != WLPID && count == 9", write, "count", -1, ""},
		{"syscalls", "sys_enter_write", "CPU == 1 && count < 4", pinned, "count", 3, ""},
		{"syscalls", "sys_enter_write", "cpu != 1 && count < 4", pinned, "count", 0, ""},
		{"syscalls", "sys_enter_openat", `filename.ustring ~ "*.txt"`, open, "filename", 4, ""},
		// Without .ustring the pointer is read as kernel memory: where
		// that fails, the predicate is false whatever the operator; some
		// builds read the user's string instead.
		{"syscalls", "sys_enter_openat", `filename ~ "*.txt" || filename != "x"`, open, "filename", plainKept, ""},
		{"syscalls", "sys_enter_openat", `filename ~ "*.txt"`, open, "filename", plainTxt, ""},
		{"syscalls", "sys_enter_openat", `filename.ustring ~ "*/a*"`, open, "filename", 2, ""},
		{"syscalls", "sys_enter_openat", `filename.ustring ~ "*amm*"`, open, "filename", 1, ""},
		{"syscalls", "sys_enter_openat", `filename.ustring ~ "*[bg]*.???"`, open, "filename", 3, ""},
		{"syscalls", "sys_enter_openat", `filename.ustring ~ "*\[1]*"`, open, "filename", 1, ""},
		{"syscalls", "sys_enter_openat", `filename.ustring == "DIR/beta.log"`, open, "filename", 1, ""},
		{"syscalls", "sys_enter_openat", `filename.ustring ~ "/*/*l*h*a*.t?t"`, open, "filename", 1, ""},
		{"syscalls", "sys_enter_openat", `filename.ustring ~ "*/*a*a*.*"`, open, "filename", 4, ""},
		{"syscalls", "sys_enter_openat", `filename.ustring ~ "DIR*" && !(filename.ustring ~ "*.log")`, open, "filename", 4, ""},
		{"syscalls", "sys_enter_openat", `flags & 0x80000 && filename.ustring ~ "!*.txt"`, open, "filename", 5, ""},
		{"sched", "sched_process_exec", `filename ~ "*true"`, exec, "pid", 0, ""},
		{"sched", "sched_process_exec", `filename ~ "*fltwl*"`, exec, "pid", 1, ""},
		{"sched", "sched_process_exec", `filename == "BIN"`, exec, "pid", 1, ""},
		{"sched", "sched_process_exec", `filename ~ "/*/*"`, exec, "pid", 1, ""},
		// "*x" on a char array compares the array's last bytes, not the
		// string's, so the kernel keeps nothing; a full glob does match.
		{"sched", "sched_process_exit", `comm ~ "*[a-z]"`, []string{"sleep", "1"}, "pid", 0, ""},
		{"sched", "sched_process_exit", `comm ~ "fltwl*" && pid == WLPID`, []string{"sleep", "1"}, "pid", 1, ""},
		{"sched", "sched_process_exit", `comm ~ "*` + last + `"`, []string{"sleep", "1"}, "pid", 0, ""},
		{"sched", "sched_process_exit", `comm ~ "*wl*" && pid == WLPID`, []string{"sleep", "1"}, "pid", 1, ""},
		{"sched", "sched_process_exit", `comm ~ "*[0-9]" && pid == WLPID`, []string{"sleep", "1"}, "pid", 1, ""},
		{"sched", "sched_process_exit", "pid > -1 && prio >= -120 && pid == WLPID", []string{"sleep", "1"}, "pid", 1, ""},
		{"sched", "sched_process_exit", "pid < -1 || prio < 0", []string{"sleep", "1"}, "pid", 0, ""},
		// The workload inherits oom_score_adj 5 (see below). The kernel
		// truncates a value to the field's type: 0x10005 is 5 and 0xfffb
		// is -5 for this short.
		{"task", "task_newtask", "oom_score_adj == 0x10005 && oom_score_adj > 0xfffb", write, "pid", -1, ""},
		{"task", "task_newtask", "oom_score_adj < 0 || oom_score_adj < 0xfffb", write, "pid", 0, ""},
		// ret is a long: -2 (ENOENT) for the missing file.
		{"syscalls", "sys_exit_openat", "ret < 0 && ret >= -2", open, "ret", 1, ""},
		// sched_wakeup has a comm field of its own, the woken task's, which
		// wins over the generic COMM, the waker's, in both filters: some of
		// the workload's threads are woken from interrupts or by others.
		{"sched", "sched_wakeup", `!(COMM ~ "fltwl*")`, []string{"sleep", "50"}, "pid", -1, `comm == "WLCOMM"`},
		{"kmem", "kmem_cache_alloc", "call_site.function == alloc_empty_file", open, "bytes_req", -1, ""},
		{"kmem", "kmem_cache_alloc", `bytes_req == 256 && call_site.function != alloc_empty_file`, open, "bytes_req", -1, ""},
	}
	setOOMScoreAdj(t, "5")
	for _, tc := range cases {
		t.Run(tc.name+"/"+tc.expr, func(t *testing.T) {
			format, err := events.Format(tc.category, tc.name)
			if errors.Is(err, os.ErrNotExist) {
				t.Skipf("no event %s:%s on this kernel: %v", tc.category, tc.name, err)
			}
			if err != nil {
				t.Fatal(err)
			}
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				args[i] = strings.NewReplacer("DIR", dir, "BIN", bin).Replace(a)
			}
			expr := strings.NewReplacer("WLCOMM", comm, "DIR", dir, "BIN", bin, "TYPE", strconv.Itoa(int(format.ID))).Replace(tc.expr)
			runParity(t, root, format, bin, comm, args, expr, tc, opts)
		})
	}
}

func runParity(t *testing.T, root string, format *kernel.Format, bin, comm string, args []string, expr string, tc parityCase, opts Options) {
	if args[0] != "taskset" {
		args = append([]string{bin}, args...)
	}
	shell := "read line; exec"
	for _, a := range args {
		shell += " " + shellQuote(a)
	}
	traced := testutil.StartGated(t, "/bin/sh", "-c", shell)
	expr = strings.ReplaceAll(expr, "WLPID", strconv.Itoa(traced.Pid()))
	// The space before ')' ends a bare .function name, which the kernel
	// reads up to white space.
	scope := fmt.Sprintf("COMM == %q", comm)
	if tc.scope != "" {
		scope = strings.NewReplacer("WLPID", strconv.Itoa(traced.Pid()), "WLCOMM", comm).Replace(tc.scope)
	}
	full := fmt.Sprintf("%s && (%s )", scope, expr)

	inst := newInstance(t, root)
	inst.enable(t, format, full)
	ours, rd := attachParity(t, format, full, tc.ident, opts)
	traced.Release(t)
	// The exit event fires after wait returns; give it time to land.
	time.Sleep(100 * time.Millisecond)
	inst.disable(t, format)

	theirs := inst.kept(t, format, tc.ident)
	rd.SetDeadline(time.Now().Add(100 * time.Millisecond))
	for {
		rec, err := rd.Read()
		if err != nil {
			break
		}
		ours = append(ours, binary.NativeEndian.Uint64(rec.RawSample))
	}
	slices.Sort(ours)
	slices.Sort(theirs)
	if !slices.Equal(ours, theirs) {
		t.Errorf("filter %q:\nkernel kept %d: %x\nebtrace kept %d: %x", full, len(theirs), theirs, len(ours), ours)
	}
	if tc.kept < 0 && len(theirs) == 0 || tc.kept >= 0 && len(theirs) != tc.kept {
		trace, _ := os.ReadFile(filepath.Join(inst.dir, "trace"))
		t.Errorf("filter %q: kernel kept %d events, want %d (-1: some); its trace:\n%s", full, len(theirs), tc.kept, trace)
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// attachParity attaches, on a plain tracepoint link, a program that calls
// the compiled filter as a subprogram and writes the ident field of every
// event it keeps to a ring buffer.
func attachParity(t *testing.T, format *kernel.Format, full, ident string, opts Options) ([]uint64, *ringbuf.Reader) {
	expr, err := Parse(full)
	if err != nil {
		t.Fatal(err)
	}
	filter, err := Compile(expr, format, opts)
	if err != nil {
		t.Fatal(err)
	}
	field, ok := format.Field(ident)
	if !ok {
		t.Fatalf("%s has no field %s", format.Name, ident)
	}
	rb, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.RingBuf, MaxEntries: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rb.Close() })
	main := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.Call.Label("filter"),
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.LoadMem(asm.R1, asm.R6, int16(field.Offset), sizeOf(field.Size)),
		asm.StoreMem(asm.R10, -8, asm.R1, asm.DWord),
		asm.LoadMapPtr(asm.R1, rb.FD()),
		asm.Mov.Reg(asm.R2, asm.R10), asm.Add.Imm(asm.R2, -8),
		asm.Mov.Imm(asm.R3, 8),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnRingbufOutput.Call(),
		// 1, so that perf events on the same tracepoint (which count an
		// event only if every program returns non-zero) still see all.
		asm.Mov.Imm(asm.R0, 1).WithSymbol("out"),
		asm.Return(),
	}
	filter[0] = filter[0].WithSymbol("filter")
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.TracePoint, License: "GPL", Instructions: append(main, filter...)})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Cleanup(func() { prog.Close() })
	l, err := link.Tracepoint(format.Category, format.Name, prog, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	rd, err := ringbuf.NewReader(rb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close() })
	return nil, rd
}

// instance is a tracefs instance: its own buffer and event filters, so the
// test leaves the global trace buffer alone.
type instance struct{ dir string }

func newInstance(t *testing.T, root string) *instance {
	return &instance{dir: testutil.TracefsInstance(t, root, fmt.Sprintf("ebtrace-filter-%d", os.Getpid()))}
}

func (in *instance) eventFile(f *kernel.Format, name string) string {
	return filepath.Join(in.dir, "events", f.Category, f.Name, name)
}

func (in *instance) enable(t *testing.T, f *kernel.Format, filter string) {
	if err := os.WriteFile(in.eventFile(f, "filter"), []byte(filter), 0); err != nil {
		msg, _ := os.ReadFile(in.eventFile(f, "filter"))
		t.Fatalf("kernel rejects filter %q: %v\n%s", filter, err, msg)
	}
	if err := os.WriteFile(in.eventFile(f, "enable"), []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
}

func (in *instance) disable(t *testing.T, f *kernel.Format) {
	if err := os.WriteFile(in.eventFile(f, "enable"), []byte("0"), 0); err != nil {
		t.Fatal(err)
	}
}

// kept parses the instance's trace for the ident field of each event,
// printed as "ident: V" (syscall entries), "-> V" (a syscall exit's ret)
// or "ident=V" (other events).
func (in *instance) kept(t *testing.T, f *kernel.Format, ident string) []uint64 {
	text, err := os.ReadFile(filepath.Join(in.dir, "trace"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(text), "LOST") {
		t.Fatalf("the kernel lost events:\n%s", text)
	}
	re := regexp.MustCompile(`[ (]` + regexp.QuoteMeta(ident) + `(?:: |=)(-?[0-9a-fx]+)`)
	if ident == "ret" {
		// A syscall exit prints "sys_NAME -> VALUE".
		re = regexp.MustCompile(` -> (-?[0-9a-fx]+)`)
	}
	var out []uint64
	for _, line := range strings.Split(string(text), "\n") {
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		m := re.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("no %s in trace line %q", ident, line)
		}
		v, err := strconv.ParseInt(m[1], 0, 64)
		if errors.Is(err, strconv.ErrRange) || err != nil {
			u, uerr := strconv.ParseUint(m[1], 0, 64)
			if uerr != nil {
				t.Fatalf("trace line %q: %v", line, err)
			}
			v = int64(u)
		}
		out = append(out, uint64(v))
	}
	return out
}

// stricter lists the diagnostics for filters the kernel takes but ebtrace
// rejects on purpose: header fields a BPF program cannot see, and globs the
// kernel would silently match literally, a dangling && or ||, which the
// kernel ignores, and CPU & N, which the kernel never matches.
var stricter = map[string]bool{"unsupported-field": true, "bad-glob": true, "trailing-operator": true, "cpu-and": true}

// TestKernelAgrees writes every filter of testdata/errors.txt to the
// running kernel's event filter file (in a tracefs instance) and checks
// that the kernel accepts exactly the ones ebtrace compiles, apart from
// the stricter cases. Filters using .function are left out: the
// diagnostics test resolves them against fake symbols.
func TestKernelAgrees(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	root, _, err := kernel.Tracefs()
	if err != nil {
		t.Fatal(err) // RequireTracefs found it
	}
	events := kernel.NewEvents(os.DirFS(root))
	inst := newInstance(t, root)
	checked := 0
	for _, c := range testutil.Chunks(t, "testdata/errors.txt", "---") {
		lines := slices.DeleteFunc(slices.Clone(c.Lines), func(l string) bool { return l == "" || strings.HasPrefix(l, "//") })
		if len(lines) < 2 || strings.Contains(lines[1], ".function") {
			continue
		}
		category, name, _ := strings.Cut(strings.TrimPrefix(lines[0], "# event "), ":")
		format, err := events.Format(category, name)
		if err != nil {
			continue
		}
		src := lines[1]
		var ours *source.Diagnostics
		e, err := Parse(src)
		if err == nil {
			_, err = Compile(e, format, Options{})
		}
		if err != nil {
			ours = err.(*source.Diagnostics)
			if stricter[ours.Items[0].Code] {
				continue
			}
		}
		werr := os.WriteFile(inst.eventFile(format, "filter"), []byte(src), 0)
		if (werr == nil) != (ours == nil) {
			msg, _ := os.ReadFile(inst.eventFile(format, "filter"))
			t.Errorf("errors.txt:%d: filter %q: kernel: %v\n%s\nebtrace: %v", c.Line, src, werr, msg, ours)
		}
		checked++
	}
	if checked < 20 {
		t.Errorf("checked %d filters against the kernel, want at least 20", checked)
	}
}

// setOOMScoreAdj sets this process's oom_score_adj, which the workload
// and its threads inherit, for the rest of the test. Raising it needs no
// privilege; lowering it back may fail, which only leaves the test
// process a likelier OOM victim.
func setOOMScoreAdj(t *testing.T, v string) {
	const file = "/proc/self/oom_score_adj"
	old, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(v), 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.WriteFile(file, old, 0) })
}
