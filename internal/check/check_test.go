package check

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/kerneltest"
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/testutil"
	"github.com/ebtrace/ebtrace/internal/types"
)

// markerRE finds the expectations in a line's trailing comment:
// want "regexp" for a diagnostic's message, hint "regexp" for one of the
// hints of a diagnostic on that line.
var markerRE = regexp.MustCompile(`\b(want|hint) ("(?:[^"\\]|\\.)*")`)

type expectation struct {
	kind string // "want" or "hint"
	line int    // within the chunk
	re   *regexp.Regexp
}

func expectations(t *testing.T, c testutil.Chunk) []expectation {
	var out []expectation
	for i, l := range c.Lines {
		_, comment, ok := strings.Cut(l, "//")
		if !ok {
			continue
		}
		for _, m := range markerRE.FindAllStringSubmatch(comment, -1) {
			s, err := strconv.Unquote(m[2])
			if err != nil {
				t.Fatalf("errors.txt:%d: bad marker %s: %v", c.Line+i, m[0], err)
			}
			re, err := regexp.Compile(s)
			if err != nil {
				t.Fatalf("errors.txt:%d: bad regexp %s: %v", c.Line+i, m[0], err)
			}
			out = append(out, expectation{kind: m[1], line: i + 1, re: re})
		}
	}
	return out
}

func testEnv() *probe.Env {
	return &probe.Env{
		Events:      func() (*kernel.Events, error) { return kerneltest.Fake(), nil },
		KernelTypes: func() (*btf.Spec, error) { return kerneltest.FakeTypes(0), nil },
		CgroupID:    fakeCgroupID,
	}
}

// testParams are the positional parameters every checked script gets:
// $1 is a number, $2 is not.
var testParams = []string{"42", "hello"}

// fakeCgroupID knows one cgroup, /sys/fs/cgroup/test, with id 42.
func fakeCgroupID(path string) (uint64, error) {
	if path == "/sys/fs/cgroup/test" {
		return 42, nil
	}
	return 0, fmt.Errorf("cgroup %s: %w", path, os.ErrNotExist)
}

// unsafeMarker in a script checks it as --unsafe would.
const unsafeMarker = "// with --unsafe"

// checkSource parses and checks text; it fails the test on a syntax error
// or an error that is not a diagnostic.
func checkSource(t *testing.T, name, text string) (*Info, *source.Diagnostics) {
	t.Helper()
	prog, err := syntax.Parse(source.NewFile(name, text))
	if err != nil {
		t.Fatalf("%s: parse: %v", name, err)
	}
	env := testEnv()
	env.Unsafe = strings.Contains(text, unsafeMarker)
	info, err := CheckWith(prog, all.Registry(), env, Options{Params: testParams})
	if err == nil {
		return info, &source.Diagnostics{File: prog.File}
	}
	var diags *source.Diagnostics
	if !errors.As(err, &diags) {
		t.Fatalf("%s: check: %v", name, err)
	}
	return info, diags
}

func TestErrors(t *testing.T) { checkChunks(t, "errors.txt", 40) }

// TestCTypeErrors checks casts, members, pointers and struct definitions
// against kerneltest.FakeTypes, a small kernel BTF.
func TestCTypeErrors(t *testing.T) { checkChunks(t, "ctypes.txt", 15) }

// checkChunks checks each script of a chunked file in testdata and
// matches its diagnostics with the file's want and hint comments.
func checkChunks(t *testing.T, name string, atLeast int) {
	chunks := testutil.Chunks(t, "testdata/"+name, "---")
	if len(chunks) < atLeast {
		t.Errorf("%s has %d cases, want at least %d", name, len(chunks), atLeast)
	}
	for _, c := range chunks {
		t.Run(fmt.Sprintf("line%d", c.Line), func(t *testing.T) {
			_, diags := checkSource(t, "chunk.bt", c.Text())
			matched := make([]bool, len(diags.Items))
			for _, e := range expectations(t, c) {
				if e.kind == "hint" {
					continue
				}
				found := false
				for i, d := range diags.Items {
					if line, _ := diags.File.Position(d.Span.Start); !matched[i] && line == e.line && e.re.MatchString(d.Message) {
						matched[i], found = true, true
						break
					}
				}
				if !found {
					t.Errorf("%s:%d: no error matching %q", name, c.Line+e.line-1, e.re)
				}
			}
			for i, d := range diags.Items {
				if !matched[i] {
					line, _ := diags.File.Position(d.Span.Start)
					t.Errorf("%s:%d: unexpected error: %s", name, c.Line+line-1, d.Message)
				}
			}
			for _, e := range expectations(t, c) {
				if e.kind == "want" {
					continue
				}
				found := false
				for _, d := range diags.Items {
					if line, _ := diags.File.Position(d.Span.Start); line == e.line {
						for _, h := range d.Hints {
							found = found || e.re.MatchString(h)
						}
					}
				}
				if !found {
					t.Errorf("%s:%d: no hint matching %q", name, c.Line+e.line-1, e.re)
				}
			}
			if t.Failed() {
				t.Logf("diagnostics:\n%v", diags)
			}
		})
	}
}

func TestRenderUnknownField(t *testing.T) {
	const src = "tracepoint:syscalls:sys_enter_openat {\n\tprintf(\"%s\\n\", str(args.filenam));\n}\n"
	_, diags := checkSource(t, "open.bt", src)
	var b strings.Builder
	diags.Render(&b)
	const want = `open.bt:2:26: error: tracepoint:syscalls:sys_enter_openat has no field "filenam"
     printf("%s\n", str(args.filenam));
                             ^~~~~~~
hint: did you mean filename?
hint: fields: __syscall_nr, dfd, filename, flags, mode
`
	if got := b.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestInfo(t *testing.T) {
	const src = `tracepoint:syscalls:sys_enter_openat /pid > 1/ {
	$f = str(args.filename);
	$n = args.flags & 3;
	@opens[comm] = count();
	@opens["a-much-longer-key-name"] = count();
	@rev["a-much-longer-key-name"] = 1;
	@rev[comm] = 2;
	$g = "ab";
	$g = comm;
	@last = $f;
	@flags[pid, $f] = lhist($n, 0, 4, 1);
	@bytes = sum(args.mode);
	@n++;
}
tracepoint:sched:sched_process_exec { @exec[args.filename] = stats(args.pid); }
interval:s:1 { printf("%d\n", @n); print(@opens); clear(@opens); }
`
	info, diags := checkSource(t, "info.bt", src)
	if len(diags.Items) > 0 {
		t.Fatal(diags)
	}
	if got := strings.Join(info.MapNames(), " "); got != "bytes exec flags last n opens rev" {
		t.Errorf("MapNames() = %q", got)
	}
	maps := []struct {
		name  string
		kind  output.Kind
		keys  []types.Type
		value types.Type
	}{
		{"opens", output.Count, []types.Type{types.String(23)}, types.None},
		{"rev", output.Scalar, []types.Type{types.String(23)}, types.Int64},
		{"last", output.String, nil, types.String(64)},
		{"flags", output.LHist, []types.Type{types.UInt64, types.String(64)}, types.None},
		{"bytes", output.Sum, nil, types.None},
		{"n", output.Scalar, nil, types.Int64},
		{"exec", output.Stats, []types.Type{types.String(64)}, types.None},
	}
	for _, w := range maps {
		m := info.Maps[w.name]
		if m == nil {
			t.Errorf("@%s missing", w.name)
			continue
		}
		if m.Kind != w.kind || m.Value != w.value || fmt.Sprint(m.Keys) != fmt.Sprint(w.keys) || m.Keyed != (w.keys != nil) {
			t.Errorf("@%s = kind %v keyed %v keys %v value %v; want kind %v keys %v value %v",
				w.name, m.Kind, m.Keyed, m.Keys, m.Value, w.kind, w.keys, w.value)
		}
	}
	if m := info.Maps["flags"]; m.LMin != 0 || m.LMax != 4 || m.LStep != 1 {
		t.Errorf("@flags lhist(%d, %d, %d), want (0, 4, 1)", m.LMin, m.LMax, m.LStep)
	}

	if len(info.Instances) != 3 {
		t.Fatalf("%d instances, want 3", len(info.Instances))
	}
	open := info.Instances[0]
	if open.Instance.Name() != "tracepoint:syscalls:sys_enter_openat" || open.Index != 0 {
		t.Errorf("instance 0 is %s (probe %d)", open.Instance.Name(), open.Index)
	}
	if got := fmt.Sprint(open.Vars); got != "map[f:string[64] g:string[16] n:int64]" {
		t.Errorf("vars = %s", got)
	}
	args := map[string]probe.Arg{}
	for e, a := range open.Args {
		name := e.(*syntax.FieldExpr).Name
		args[name] = a
		if open.Types[e] != a.Type {
			t.Errorf("type of args.%s = %v, want %v", name, open.Types[e], a.Type)
		}
	}
	if a := args["filename"]; a.Offset != 24 || a.Type != types.Pointer("char", types.User) || a.DataLoc {
		t.Errorf("args.filename = %+v", a)
	}
	// openat's `int flags` is an int, though its slot is 8 bytes unsigned.
	if a := args["flags"]; a.Offset != 32 || a.Type != types.IntOf(4, true) {
		t.Errorf("args.flags = %+v", a)
	}
	if a, ok := args["mode"]; !ok || a.Offset != 40 {
		t.Errorf("args.mode = %+v", a)
	}
	exec := info.Instances[1]
	for e, a := range exec.Args {
		switch e.(*syntax.FieldExpr).Name {
		case "filename":
			if a.Offset != 8 || !a.DataLoc || a.Type != types.String(64) {
				t.Errorf("sched_process_exec args.filename = %+v", a)
			}
		case "pid":
			if a.Offset != 12 || a.Type != types.IntOf(4, true) {
				t.Errorf("sched_process_exec args.pid = %+v", a)
			}
		default:
			t.Errorf("unexpected args.%s", e.(*syntax.FieldExpr).Name)
		}
	}
	if len(exec.Args) != 2 {
		t.Errorf("sched_process_exec has %d args, want 2", len(exec.Args))
	}
	if len(info.Printfs) != 1 {
		t.Errorf("%d printfs, want 1", len(info.Printfs))
	}
	if n := len(info.Instances[2].Vars); n != 0 {
		t.Errorf("interval probe has %d vars", n)
	}
}

func FuzzCheck(f *testing.F) {
	for _, name := range []string{"errors.txt", "ctypes.txt"} {
		for _, c := range testutil.Chunks(f, "testdata/"+name, "---") {
			f.Add(c.Text())
		}
	}
	// Inputs that once produced wrong results.
	f.Add("BEGIN { @x = lhist(1, 9223372036854775808, 9223372036854775807, 1); }")
	f.Add("BEGIN { printf(\"\\x41%q\\n\", 1); @y = pid ? nope : -exit(); }")
	f.Add("tracepoint:sys[:x { }")
	f.Fuzz(func(t *testing.T, text string) {
		file := source.NewFile("fuzz.bt", text)
		prog, err := syntax.Parse(file)
		if err != nil {
			return
		}
		done := make(chan string, 1)
		var checkErr error
		go func() {
			defer func() {
				if r := recover(); r != nil {
					done <- fmt.Sprintf("%v\n%s", r, debug.Stack())
				}
				close(done)
			}()
			_, checkErr = Check(prog, all.Registry(), testEnv())
		}()
		select {
		case p, ok := <-done:
			if ok {
				t.Fatalf("Check panicked: %s", p)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Check did not return within 10s")
		}
		var diags *source.Diagnostics
		if !errors.As(checkErr, &diags) {
			return
		}
		for _, d := range diags.Items {
			if d.Span.Start < 0 || d.Span.Start > d.Span.End || int(d.Span.End) > len(text) {
				t.Errorf("diagnostic %q has span %v outside [0, %d]", d.Message, d.Span, len(text))
			}
		}
	})
}
