package ftfilter_test

import (
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/ftfilter"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/kerneltest"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
)

// predicate parses the predicate of a one-probe script on event.
func predicate(t testing.TB, event, pred string) syntax.Expr {
	t.Helper()
	prog, err := syntax.Parse(source.NewFile("test.bt", "tracepoint:"+event+" /"+pred+"/ { }"))
	if err != nil {
		t.Fatalf("%s: %v", pred, err)
	}
	return prog.Probes[0].Pred
}

// format returns a fake tracefs event's format, or parses a format file
// given after "name:".
func format(t testing.TB, event string) *kernel.Format {
	t.Helper()
	if strings.HasPrefix(event, "name:") {
		f, err := kernel.ParseFormat(event)
		if err != nil {
			t.Fatal(err)
		}
		f.Category = "test"
		return f
	}
	cat, name, _ := strings.Cut(event, ":")
	f, err := kerneltest.Fake().Format(cat, name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// shadow is an event with fields named like the filter's generic CPU and
// COMM, which the kernel's filter would take instead.
const shadow = `name: shadow
ID: 1
format:
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:int CPU;	offset:8;	size:4;	signed:1;
	field:char COMM[16];	offset:12;	size:16;	signed:0;
	field:unsigned char small;	offset:28;	size:1;	signed:0;
	field:short half;	offset:30;	size:2;	signed:1;
`

func TestTranslate(t *testing.T) {
	const (
		write  = "syscalls:sys_enter_write"
		openat = "syscalls:sys_enter_openat"
		sw     = "sched:sched_switch"
		exec   = "sched:sched_process_exec"
	)
	for _, c := range []struct {
		event, pred string
		want        string
		exact       bool
	}{
		// size_t is a u64 however it is read; a literal up to 2^63-1 is
		// an int64, so ebtrace compares signed.
		{write, "args.count == 5", "count == 5", true},
		{write, "args->count == 5", "count == 5", true},
		{write, "args.count > 5", "count >= 6 && count <= 9223372036854775807", true},
		{write, "5 < args.count", "count >= 6 && count <= 9223372036854775807", true},
		{write, "args.count >= 0x8000000000000001", "count >= 9223372036854775809", true},
		{write, "args.count <= -2", "count >= 9223372036854775808 && count <= 18446744073709551614", true},
		{write, "args.count", "count != 0", true},
		// fd is an unsigned int in an 8-byte slot: a slot with high bits
		// reads as its low half, so the filter keeps those too.
		{write, "args.fd == 1", "fd == 1 || fd >= 4294967296", false},
		{write, "args.fd != 1", "fd != 1", false},
		{write, "args.__syscall_nr == -1", "__syscall_nr == -1", true},
		{openat, "args.dfd == -100", "dfd == 4294967196 || (dfd >= 4294967296 && dfd <= 18446744071562067967) || dfd == 18446744073709551516", false},
		// umode_t is 16 bits with BTF, the whole slot without.
		{openat, "args.mode == 0644", "mode == 420 || mode >= 65536", false},
		{openat, "args.filename == 0", "", false},
		{openat, `str(args.filename) == "/etc/passwd"`, "", false},
		{write, "args.buf != 0 && args.count == 5", "count == 5", false},
		// Event fields other than syscalls' are read as the format says.
		{sw, `args.prev_pid == -1 || comm == "bash" && tid != 4`, `prev_pid == -1 || (COMM == "bash" && common_pid != 4)`, true},
		{sw, "args.prev_state & 3", "prev_state & 3", true},
		{sw, "(args.prev_state & 3) == 0", "!(prev_state & 3)", true},
		{sw, "0 != (4 & args.prev_state)", "prev_state & 4", true},
		{sw, "args.prev_prio & 0x80000000", "prev_prio & -2147483648", true},
		{sw, "args.prev_prio & 0x100000000", "", false},
		{sw, `args.prev_comm == "swapper/0" && cpu < 2`, `prev_comm == "swapper/0" && CPU <= 1`, true},
		{sw, `"bash" != comm`, `COMM != "bash"`, true},
		{sw, `comm == "x\"y"`, `COMM == 'x"y'`, true},
		{sw, `comm == "0123456789abcde"`, `COMM == "0123456789abcde"`, true},
		{sw, `comm == "0123456789abcdef"`, "", false},
		{sw, `args.next_comm == "0123456789abcd"`, `next_comm == "0123456789abcd"`, true},
		{sw, `args.next_comm == "0123456789abcde"`, "", false},
		{sw, `comm == "tab\there"`, "", false},
		{sw, "cpu", "CPU != 0", true},
		{sw, "tid == 7 || cpu >= 3", "common_pid == 7 || CPU >= 3", true},
		{sw, "cpu & 1", "", false},
		// Parts that do not translate: the filter keeps a superset.
		{sw, "pid == 5", "", false},
		{sw, "pid == 5 || args.prev_pid == 1", "", false},
		{sw, "pid == 5 && args.prev_pid == 1", "prev_pid == 1", false},
		{sw, "!(pid == 5 || args.prev_pid == 1)", "!(prev_pid == 1)", false},
		{sw, "!(pid == 5 && args.prev_pid == 1)", "", false},
		{sw, "!(args.prev_state & 3) && @x", "!(prev_state & 3)", false},
		{sw, "args.prev_pid + 1 > 3", "", false},
		{sw, "args.prev_pid == args.next_pid", "", false},
		{sw, "args.nosuch == 1", "", false},
		{sw, "$1 == 1 && args.prev_prio < 10", "prev_prio <= 9", false},
		// Comparisons that always or never hold.
		{sw, "args.prev_prio >= -2147483648", "", true},
		{sw, "args.prev_prio < -2147483648", "", false},
		{sw, "args.prev_pid > 4294967296", "", false},
		{sw, "tid == -1", "", false},
		{sw, "args.prev_prio >= -2147483648 && args.next_prio == 3", "next_prio == 3", true},
		{exec, `args.filename != "/bin/true"`, `filename != "/bin/true"`, true},
		{exec, `args.filename == "` + strings.Repeat("p", 62) + `"`, `filename == "` + strings.Repeat("p", 62) + `"`, true},
		{exec, `args.filename == "` + strings.Repeat("p", 63) + `"`, "", false},
		// Fields named like the generic ones hide them from the filter.
		{shadow, "cpu == 1", "", false},
		{shadow, `comm == "x"`, "", false},
		{shadow, "args.CPU == 1", "CPU == 1", true},
		{shadow, "args.small == 255 || args.half < 0", "small == 255 || half <= -1", true},
		{shadow, "args.small != -1", "", true},
	} {
		f := format(t, c.event)
		name := c.event
		if f.Category == "test" {
			name = "test:" + f.Name
		}
		got, exact := ftfilter.Translate(predicate(t, name, c.pred), f)
		if got != c.want || exact != c.exact {
			t.Errorf("%s /%s/: got %q, exact %v; want %q, exact %v", name, c.pred, got, exact, c.want, c.exact)
		}
	}
}

func TestTranslateNoPredicate(t *testing.T) {
	if got, exact := ftfilter.Translate(nil, format(t, "sched:sched_switch")); got != "" || !exact {
		t.Errorf("no predicate: got %q, exact %v; want \"\", exact", got, exact)
	}
}
