package tracer_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/testutil"
	"github.com/ebtrace/ebtrace/internal/tracetest"
)

// run compiles script, loads it, runs BEGIN with BPF_PROG_TEST_RUN and
// finishes the session: tier 2, the kernel without attaching anything.
func run(t *testing.T, script string, opts plan.Options) (stdout, warnings string) {
	t.Helper()
	return runWith(t, script, compile.Options{Plan: opts})
}

func runWith(t *testing.T, script string, opts compile.Options) (stdout, warnings string) {
	t.Helper()
	return runSession(t, script, session{compile: opts})
}

// session is how runSession compiles and prints.
type session struct {
	compile compile.Options
	unsafe  bool // --unsafe
	json    bool // -f json
}

// runSession is run with every choice open.
func runSession(t *testing.T, script string, s session) (stdout, warnings string) {
	t.Helper()
	writer := output.NewText
	if s.json {
		writer = output.NewJSON
	}
	res := tracetest.Compile(t, all.Registry(), tracetest.FakeEnv(s.unsafe), script, s.compile)
	return tracetest.Session(t, res, writer, tracetest.RunBegin)
}

func TestArithmetic(t *testing.T) {
	cases := []struct {
		expr string
		want int64
	}{
		{"1 + 2 * 3", 7},
		{"(1 + 2) * 3", 9},
		{"10 - 4 - 3", 3},
		{"7 / 2", 3},
		{"7 % 4", 3},
		{"1 << 40", 1 << 40},
		{"-16 >> 2", -4},
		{"0xf0 & 0x3c | 1", 0x31},
		{"6 ^ 3", 5},
		{"~0", -1},
		{"-5", -5},
		{"!0", 1},
		{"!7", 0},
		{"-1 < 1", 1},
		{"2 <= 2", 1},
		{"3 > 4", 0},
		{"3 >= 4", 0},
		{"1 == 1 && 2 != 2", 0},
		{"0 || 5", 1},
		{"1 ? 10 : 20", 10},
		{"0 ? 10 : 20", 20},
		{"1 + 2 == 3 ? 4 : 5", 4},
		{`"abc" == "abc"`, 1},
		{`"abc" == "abd"`, 0},
		{`"abc" == "abcd"`, 0},
		{`"abcd" != "abc"`, 1},
		{`"" == ""`, 1},
	}
	var b strings.Builder
	b.WriteString("BEGIN {\n")
	for _, c := range cases {
		fmt.Fprintf(&b, "printf(\"%%ld\\n\", %s);\n", c.expr)
	}
	b.WriteString("}\n")
	out, _ := run(t, b.String(), plan.DefaultOptions)
	lines := strings.Split(out, "\n")
	for i, c := range cases {
		if got := lines[i]; got != fmt.Sprint(c.want) {
			t.Errorf("%s = %s, want %d", c.expr, got, c.want)
		}
	}
}

// log2Bucket is the reference for hist(): see output.HistValue.
func log2Bucket(v int64) int {
	if v < 0 {
		return 0
	}
	if v == 0 {
		return 1
	}
	b := 2
	for v > 1 {
		v >>= 1
		b++
	}
	return b
}

func TestHistBuckets(t *testing.T) {
	values := []int64{-5, 0, 1, 2, 3, 4, 7, 8, 1023, 1024, 1 << 20, 1<<20 + 1, 1<<32 - 1, 1 << 32, 1 << 40, 1<<62 + 12345}
	var b strings.Builder
	want := output.HistValue{}
	lwant := output.HistValue{}
	b.WriteString("BEGIN {\n")
	for _, v := range values {
		fmt.Fprintf(&b, "@h = hist(%d); @l = lhist(%d, 0, 1000, 100);\n", v, v)
		want[log2Bucket(v)]++
		switch {
		case v < 0:
			lwant[0]++
		case v >= 1000:
			lwant[11]++
		default:
			lwant[int(1+v/100)]++
		}
	}
	b.WriteString("}\n")
	got, _ := run(t, b.String(), plan.DefaultOptions)
	var ref bytes.Buffer
	w := output.NewText(&ref)
	w.End([]*output.Map{
		{Name: "@h", Kind: output.Hist, Entries: []output.Entry{{Value: want}}},
		{Name: "@l", Kind: output.LHist, LMin: 0, LMax: 1000, LStep: 100, Entries: []output.Entry{{Value: lwant}}},
	})
	w.Flush()
	if got != ref.String() {
		t.Errorf("got:\n%s\nwant:\n%s", got, ref.String())
	}
}

func TestMapsAndVariables(t *testing.T) {
	out, _ := run(t, `BEGIN {
	$a = 5; $a += 3; $a++; $s = "str"; $t = comm;
	@mn = min(-3); @mn = min(4); @mx = max(-3); @mx = max(-9);
	@avg = avg(1); @avg = avg(2); @st = stats(-4); @st = stats(10);
	@v[$s, 2] = $a; @str = $s; @cmp = $s == "str";
	@n = 1; @n *= 6; @n -= 1; @n <<= 2; @pre = ++@n; @post = @n++;
	@gone[1] = 1; @gone[2] = 2; delete(@gone[1]);
	@c[1] = count(); @c[2] = count(); @c[2] = count(); clear(@c); // an empty map prints a blank line, as in bpftrace
	@z[1] = sum(5); zero(@z);
	if ($a == 9) { @branch = 1; } else if ($a == 8) { @branch = 2; } else { @branch = 3; }
	print(@v);
	printf("%s %d %s|%5d|%-5s|%x\n", $s, $a, @str, 42, "ab", 255);
}`, plan.DefaultOptions)
	want := `@v[str, 2]: 9
str 9 str|   42|ab   |ff


@avg: 1

@branch: 1

@cmp: true
@gone[2]: 2
@mn: -3
@mx: -3
@n: 22
@post: 21
@pre: 21
@st: { .count = 2, .average = 3, .total = 6 }

@str: str
@v[str, 2]: 9
@z[1]: 0
`
	if out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
}

// A full map and a full ring buffer are counted and reported, never
// silently dropped.
func TestNothingLostSilently(t *testing.T) {
	out, warn := run(t, `BEGIN { @m[1] = 1; @m[2] = 2; @m[3] = 3; }`, plan.Options{RingSize: 4096, MaxEntries: 2})
	if !strings.Contains(warn, "map @m was full (2 entries): 1 updates were dropped") {
		t.Errorf("warnings %q", warn)
	}
	if strings.Count(out, "@m[") != 2 {
		t.Errorf("output %q", out)
	}
	var b strings.Builder
	b.WriteString("BEGIN {\n")
	for i := 0; i < 300; i++ {
		b.WriteString(`printf("%d\n", 1);`)
	}
	b.WriteString("}\n")
	out, _ = run(t, b.String(), plan.Options{RingSize: 4096, MaxEntries: 16})
	printed := strings.Count(out, "1\n")
	lost := 0
	if i := strings.Index(out, "Lost "); i >= 0 {
		fmt.Sscanf(out[i:], "Lost %d events", &lost)
	}
	if lost == 0 || printed+lost != 300 {
		t.Errorf("printed %d, lost %d, want them to add up to 300 with some lost", printed, lost)
	}
}

// exit() ends the probe at once; code after it, reachable or not, is
// accepted by the verifier.
func TestExitEndsProbe(t *testing.T) {
	out, _ := run(t, `BEGIN { if (1) { printf("a\n"); exit(); } printf("b\n"); }
END { if (0) { exit(); } else { exit(); } printf("never\n"); }`, plan.DefaultOptions)
	if out != "a\n\n\n" {
		t.Errorf("got %q", out)
	}
}

// Found by generating random scripts: >>= on an unsigned variable shifted
// arithmetically, and str(s, N) kept more than N-1 characters.
func TestShiftAndStrLength(t *testing.T) {
	out, _ := run(t, `BEGIN {
	$x = 18446744073709551608; $x >>= 1; @b = $x;
	$s = str("abcdef", 4);
	printf("%s|%s|%d|%d\n", $s, str("xy", 1), $s == "abc", str("abcdef", 4) == "abcd");
	exit();
}`, plan.DefaultOptions)
	if want := "abc||1|0\n\n\n@b: 9223372036854775804\n"; out != want {
		t.Errorf("got %q, want %q", out, want)
	}
}

// comm read through the task's BTF equals the helper's answer.
func TestCommThroughTask(t *testing.T) {
	testutil.RequireRoot(t) // the feature probe loads a program
	if _, err := kernel.TaskCommOffset(); errors.Is(err, ebpf.ErrNotSupported) {
		t.Skipf("kernel BTF or bpf_get_current_task_btf missing: %v", err)
	} else if err != nil {
		t.Fatal(err)
	}
	script := `BEGIN { printf("%s|%d\n", comm, comm == "tracer.test"); @[comm] = count(); exit(); }`
	helper, _ := run(t, script, plan.DefaultOptions)
	btf, _ := runWith(t, script, compile.Options{Plan: plan.DefaultOptions, TaskCommOffset: kernel.TaskCommOffset})
	if want := "tracer.test|1\n\n\n@[tracer.test]: 1\n"; helper != want || btf != want {
		t.Errorf("helper %q, task BTF %q, want %q", helper, btf, want)
	}
}
